"""Issue 14, finding 5: a restart forgot which nonces were used, so a request accepted before a
miner restarted was accepted again within the replay window. Now the axon refuses (STALE) every
request signed before it started serving. Real axons (the first stopped, a second started with
the same hotkey, as a restarted miner would be) over loopback gRPC."""
from __future__ import annotations

import asyncio
import time

from hardening_kit import send_raw, serving, signed

from protocol.codes import ReturnCode
from protocol.replay import ReplayGuard


def test_a_request_accepted_before_a_restart_is_not_accepted_after_it():
    async def main():
        async with serving() as first:
            data = signed()
            assert (await send_raw(first, data)).code == ReturnCode.SUCCESS
            assert (await send_raw(first, data)).code == ReturnCode.REPLAYED
        async with serving() as restarted:        # a new process: its nonce store is empty
            assert (await send_raw(restarted, data)).code == ReturnCode.STALE
            assert (await send_raw(restarted, signed())).code == ReturnCode.SUCCESS  # fresh ones are served
    asyncio.run(main())


def test_refuse_until_refuses_everything_signed_at_or_before_it():
    g = ReplayGuard(window_s=120, skew_s=30)
    now = time.time_ns()
    g.refuse_until(now)
    assert g.check(b"k", 1, now - 1, now) == ReturnCode.STALE
    assert g.check(b"k", 2, now, now) == ReturnCode.STALE
    assert g.check(b"k", 3, now + 1, now + 2) == ReturnCode.SUCCESS
    g.refuse_until(now - 10**9)               # never lowers the floor
    assert g.check(b"k", 4, now, now + 2) == ReturnCode.STALE
