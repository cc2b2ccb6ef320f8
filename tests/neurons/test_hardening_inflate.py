"""Issue 14, finding 2: compressed bodies were inflated before a handler slot was taken, so a few
hundred bytes per request pinned megabytes each while they waited in the queue. Now a body
inflates only inside a handler slot, within per-caller and total budgets of inflated bytes
(`max_inflated_bytes_per_caller`, `max_inflated_bytes`). Real axon, real zstd, loopback gRPC."""
from __future__ import annotations

import asyncio
import gc
import threading

import torch
from hardening_kit import TABLE, rss_bytes, send_raw, serving, signed
from substrateinterface import Keypair

from neurons.axon import CallerInfo
from protocol.codes import ReturnCode
from protocol.envelope import encode_body

MIB = 1 << 20
BOMB_MIB = 4          # each request: ~300 bytes on the wire, 4 MiB once inflated
OTHER = Keypair.create_from_uri("//HardeningOtherValidator")


def bomb(mib: int = BOMB_MIB) -> bytes:
    return encode_body({"x": torch.zeros(mib * MIB // 4)}, compression="zstd")


class Gate:
    """A handler that holds its slot until released; counts what it ran."""

    def __init__(self):
        self.go, self.calls = threading.Event(), 0

    def __call__(self, call):
        self.calls += 1
        self.go.wait(10)
        return {"n": torch.tensor([sum(t.numel() for t in call.tensors.values())])}


def test_queued_compressed_bodies_are_not_inflated_and_rss_stays_flat():
    async def main():
        handler = Gate()
        async with serving(handler, concurrency=1, max_queue=64) as axon:
            first = asyncio.create_task(send_raw(axon, signed(body=encode_body({"x": torch.zeros(4)})), 10))
            while handler.calls == 0:
                await asyncio.sleep(0.01)
            n = 24
            data = [signed(body=bomb()) for _ in range(n)]
            gc.collect()
            before = rss_bytes()
            assert max(len(d) for d in data) < 2048
            waiting = [asyncio.create_task(send_raw(axon, d, 10)) for d in data]
            while axon.queue_depth < n:     # all of them read, checked and queued for the one slot
                await asyncio.sleep(0.02)
            grown = rss_bytes() - before
            handler.go.set()
            codes = [r.code for r in await asyncio.gather(first, *waiting)]
            assert codes == [ReturnCode.SUCCESS] * (n + 1)
            # inflating them all would hold n x 4 MiB = 96 MiB while they wait
            assert grown < 24 * MIB, f"RSS grew {grown / MIB:.1f} MiB while {n} bombs waited"
    asyncio.run(main())


async def first_done(tasks: list) -> object:
    """The result of the first task to finish (the refused one); the rest are left running."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    t = done.pop()
    tasks.remove(t)
    return t.result()


def test_inflated_bytes_are_capped_per_caller_and_in_total():
    async def main():
        handler = Gate()
        table = {**TABLE, OTHER.ss58_address: CallerInfo(1, 1000.0, True)}
        async with serving(handler, table=table, concurrency=8, max_inflated_bytes_per_caller=9 * MIB,
                           max_inflated_bytes=13 * MIB) as axon:
            bombs = [signed(body=bomb()) for _ in range(3)] + [signed(OTHER, body=bomb()) for _ in range(2)]
            gc.collect()
            before = rss_bytes()
            mine = [asyncio.create_task(send_raw(axon, d, 10)) for d in bombs[:3]]
            while handler.calls < 2:
                await asyncio.sleep(0.01)
            third = await first_done(mine)  # 2 x 4 MiB held: a third would exceed 9 MiB for this caller
            assert third.code == ReturnCode.RATE_LIMITED, third.message
            theirs = [asyncio.create_task(send_raw(axon, d, 10)) for d in bombs[3:]]
            while handler.calls < 3:
                await asyncio.sleep(0.01)
            over = await first_done(theirs)  # 12 MiB held in all: 4 more exceeds 13 MiB
            assert over.code == ReturnCode.OVERLOADED, over.message
            assert axon._inflate.used == 12 * MIB
            grown = rss_bytes() - before
            assert grown < 13 * MIB + 8 * MIB, f"RSS grew {grown / MIB:.1f} MiB at a 13 MiB bound"
            huge = await send_raw(axon, signed(body=bomb(10)), 10)  # alone over the per-caller bound
            assert huge.code == ReturnCode.PAYLOAD_TOO_LARGE, huge.message
            handler.go.set()
            assert all(r.code == ReturnCode.SUCCESS for r in await asyncio.gather(*mine, *theirs))
            assert axon._inflate.used == 0 and len(axon._inflate) == 0
    asyncio.run(main())


def test_declared_size_is_read_without_inflating():
    from neurons.axon.inflate import InflateBudget, inflated_size
    assert inflated_size(bomb(2)) == 2 * MIB
    plain = encode_body({"x": torch.zeros(1000), "ids": torch.arange(5)})
    assert inflated_size(plain) == 0      # views of the received bytes: nothing inflates
    b = InflateBudget(per_caller=10, total=15)
    assert b.take(b"a", 6)[0] == ReturnCode.SUCCESS
    assert b.take(b"a", 5)[0] == ReturnCode.RATE_LIMITED
    assert b.take(b"b", 10)[0] == ReturnCode.OVERLOADED
    assert b.take(b"b", 11)[0] == ReturnCode.PAYLOAD_TOO_LARGE
    b.give(b"a", 6)
    assert b.used == 0 and len(b) == 0
