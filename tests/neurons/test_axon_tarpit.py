"""Tarpit: quick refusals within a connection's allowance, held ones past it (bounded, jittered,
never past the deadline); over real gRPC a flooder is slowed while the validator is not."""
from __future__ import annotations

import asyncio
import time

import torch
from substrateinterface import Keypair

from neurons.axon import Axon, CallerInfo
from neurons.config.schema import AxonSection
from neurons.axon.tarpit import REFUSALS, Tarpit, source
from neurons.dendrite import Dendrite, Endpoint
from neurons.echo import SYNAPSE, forward
from protocol.codes import ReturnCode

RC = ReturnCode


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def pit(clock, **kw) -> Tarpit:
    kw = {"rate": 1.0, "burst": 2, "hold_s": 1.0, "max_held": 8, "max_held_bytes": 1000, **kw}
    return Tarpit(clock=clock, uniform=lambda a, b: b, **kw)  # jitter pinned to its upper end


def test_refusals_past_the_allowance_are_held_and_others_never():
    clock = Clock()
    t = pit(clock)
    assert [t.delay(RC.BLACKLISTED, "p", None) for _ in range(3)] == [0.0, 0.0, 1.0]
    for code in set(RC) - REFUSALS:  # success, overload, timeouts, server errors: never the caller's doing
        assert t.delay(code, "p", None) == 0.0
    assert t.delay(RC.STALE, "other", None) == 0.0      # each connection has its own allowance
    clock.t += 1.0                                       # one more quick refusal per second
    assert t.delay(RC.RATE_LIMITED, "p", None) == 0.0
    assert t.delay(RC.RATE_LIMITED, "p", None) == 1.0


def test_the_allowance_belongs_to_the_source_address_not_the_connection():
    assert source("ipv4:10.0.0.7:40001") == source("ipv4:10.0.0.7:40002") == "10.0.0.7"
    assert source("ipv6:%5B2001:db8::1%5D:4000") == source("ipv6:%5B2001:db8::ffff%5D:4001") == "2001:db8::/64"
    assert source("ipv6:%5B2001:db8:0:1::1%5D:4000") != source("ipv6:%5B2001:db8::1%5D:4000")
    assert source("unix:/tmp/axon.sock") == "unix:/tmp/axon.sock"
    t = pit(Clock())
    assert [t.delay(RC.BLACKLISTED, f"ipv4:10.0.0.7:{port}", None) for port in (1, 2, 3)] == [0.0, 0.0, 1.0]


def test_hold_is_jittered_and_ends_before_the_deadline():
    clock = Clock()
    t = Tarpit(rate=1.0, burst=1, hold_s=1.0, max_held=8, max_held_bytes=1000, clock=clock)
    t.delay(RC.BLACKLISTED, "p", None)
    holds = [t.delay(RC.BLACKLISTED, "p", None) for _ in range(200)]
    assert all(0.5 <= h <= 1.0 for h in holds) and max(holds) - min(holds) > 0.2
    assert 0.15 <= t.delay(RC.BLACKLISTED, "p", remaining=0.35) <= 0.3   # (0.35 - 0.05) x U(0.5, 1)
    assert t.delay(RC.BLACKLISTED, "p", remaining=0.02) == 0.0


def test_held_answers_are_bounded_in_count_and_bytes():
    async def main():
        t = pit(Clock(), max_held=2, max_held_bytes=300)
        t0 = time.perf_counter()
        await asyncio.gather(t.hold(0.2, 100), t.hold(0.2, 100), t.hold(0.2, 100))  # the third goes at once
        assert t.total == 2 and t.held == 0 and 0.15 < time.perf_counter() - t0 < 1.0
        t0 = time.perf_counter()
        await t.hold(0.2, 301)  # more bytes than may be held
        assert time.perf_counter() - t0 < 0.1 and t.total == 2
    asyncio.run(main())


MINER = Keypair.create_from_uri("//TarpitTestMiner")
VALI = Keypair.create_from_uri("//TarpitTestValidator")
STRANGER = Keypair.create_from_uri("//TarpitTestStranger")


def test_a_flooder_is_slowed_and_the_validator_is_not():
    async def main():
        cfg = AxonSection(quick_refusal_burst=3, quick_refusals_per_s=0.1, refusal_hold_s=0.4)
        axon = Axon(MINER, caller_info={VALI.ss58_address: CallerInfo(0, 1000.0, True)}.get, config=cfg)
        axon.attach(SYNAPSE, forward)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        x = {"x": torch.ones(4)}
        async with Dendrite(STRANGER) as flooder, Dendrite(VALI) as validator:
            quick = [(await flooder.query([ep], SYNAPSE, x, timeout=5))[0] for _ in range(3)]
            assert [r.code for r in quick] == [RC.BLACKLISTED] * 3 and max(r.latency_s for r in quick) < 0.15
            flood = asyncio.gather(*(flooder.query([ep], SYNAPSE, x, timeout=5) for _ in range(20)))
            await asyncio.sleep(0.05)
            assert axon.metrics.held.collect()[0].samples[0].value > 0
            [answer] = await validator.query([ep], SYNAPSE, x, timeout=5)
            assert answer.ok and answer.latency_s < 0.15   # not behind the held refusals
            held = [r for [r] in await flood]
            assert {r.code for r in held} == {RC.BLACKLISTED}        # still told why, only later
            assert min(r.latency_s for r in held) >= 0.2 - 0.01       # >= 0.4 x 0.5
        await axon.stop(0)
    asyncio.run(main())
