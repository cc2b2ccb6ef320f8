"""Unit tests of the axon's admission parts: priority gate, rate limiter, concurrency cap."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings, strategies as st

from neurons.axon.limits import ConcurrencyCap, RateLimiter
from neurons.axon.priority import Overloaded, PriorityGate


async def _serve_order(priorities: list[float], max_queue: int) -> tuple[list[int], list[int]]:
    """Hold the only slot, queue one waiter per priority, then release: (served order, shed)."""
    gate = PriorityGate(concurrency=1, max_queue=max_queue)
    await gate.acquire(0)
    served, shed = [], []

    async def waiter(i: int, p: float):
        try:
            await gate.acquire(p)
        except Overloaded:
            shed.append(i)
            return
        served.append(i)
        gate.release()

    tasks = []
    for i, p in enumerate(priorities):
        tasks.append(asyncio.create_task(waiter(i, p)))
        await asyncio.sleep(0)  # enqueue in index order
    gate.release()
    await asyncio.gather(*tasks)
    assert gate.active == 0 and gate.waiting == 0
    return served, shed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.integers(0, 10))
def test_gate_serves_highest_first_and_sheds_lowest(prios, max_queue):
    served, shed = asyncio.run(_serve_order([float(p) for p in prios], max_queue))
    # service order: priority descending, FIFO among equals
    assert served == sorted(served, key=lambda i: (-prios[i], i))
    assert len(served) == min(len(prios), max_queue) and len(shed) == len(prios) - len(served)
    if shed and served:  # nothing shed ranks above anything kept (ties: the newer goes)
        assert max((prios[i], -i) for i in shed) < min((prios[i], -i) for i in served)


def test_gate_cancelled_waiter_frees_its_place():
    async def main():
        gate = PriorityGate(concurrency=1, max_queue=1)
        await gate.acquire(0)
        t = asyncio.create_task(gate.acquire(5))
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert gate.waiting == 0
        t2 = asyncio.create_task(gate.acquire(1))  # the queue has room again
        await asyncio.sleep(0)
        gate.release()
        await t2
        assert gate.active == 1
        gate.release()
        assert gate.active == 0
    asyncio.run(main())


def test_rate_limiter_bucket_refills_and_peek_spends_nothing():
    now = [0.0]
    rl = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert all(rl.peek("a") for _ in range(10))          # peeking never drains
    assert [rl.spend("a") for _ in range(4)] == [True, True, True, False]
    assert rl.spend("b")                                  # buckets are per hotkey
    now[0] += 0.5                                         # 0.5 s * 2/s = one token back
    assert rl.spend("a") and not rl.spend("a")


def test_rate_limiter_memory_is_bounded():
    rl = RateLimiter(rate=1, burst=1, max_keys=100)
    for i in range(1000):
        rl.spend(f"hk{i}")
    assert len(rl) == 100


def test_concurrency_cap_counts_per_hotkey():
    cap = ConcurrencyCap(2)
    assert cap.try_acquire("a") and cap.try_acquire("a") and not cap.try_acquire("a")
    assert cap.try_acquire("b")
    cap.release("a")
    assert cap.try_acquire("a")
    for k in ("a", "a", "b"):
        cap.release(k)
    assert len(cap) == 0
