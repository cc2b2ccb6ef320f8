"""A bounded priority gate: `concurrency` requests run, the rest wait in a max-heap by priority.

Waiters are served highest priority first (FIFO among equals). When more than `max_queue`
wait, the lowest-priority waiter (the newest among equals, possibly the one just arriving)
is shed: its `acquire` raises `Overloaded`. All methods run on one event loop.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools


class Overloaded(Exception):
    """The request was shed from a full queue."""


class PriorityGate:
    def __init__(self, concurrency: int, max_queue: int):
        if concurrency < 1 or max_queue < 0:
            raise ValueError("concurrency must be >= 1 and max_queue >= 0")
        self.concurrency, self.max_queue = concurrency, max_queue
        self.active = 0                 # slots held
        self.waiting = 0                # live entries in the heap
        self._heap: list[list] = []     # [-priority, seq, future | None]; None = withdrawn
        self._seq = itertools.count()

    async def acquire(self, priority: float) -> None:
        if self.active < self.concurrency and self.waiting == 0:
            self.active += 1
            return
        fut = asyncio.get_running_loop().create_future()
        entry = [-float(priority), next(self._seq), fut]
        heapq.heappush(self._heap, entry)
        self.waiting += 1
        if self.waiting > self.max_queue:
            self._shed_lowest()  # possibly this very entry: then `fut` already holds Overloaded
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.release()          # the slot was handed over just as we were cancelled
            elif entry[2] is not None:
                self._withdraw(entry)
            raise

    def release(self) -> None:
        while self._heap:
            entry = heapq.heappop(self._heap)
            fut = entry[2]
            if fut is None:
                continue
            self.waiting -= 1
            entry[2] = None
            if not fut.done():
                fut.set_result(None)    # hand the slot straight to the best waiter
                return
        self.active -= 1

    def _withdraw(self, entry: list) -> None:
        entry[2] = None
        self.waiting -= 1
        if len(self._heap) > 2 * self.waiting + 64:   # drop withdrawn entries now and then
            self._heap = [e for e in self._heap if e[2] is not None]
            heapq.heapify(self._heap)

    def _shed_lowest(self) -> None:
        # Under overload only: O(queue) scan for the lowest priority, newest first among equals.
        victim = max((e for e in self._heap if e[2] is not None), key=lambda e: (e[0], e[1]))
        fut = victim[2]
        self._withdraw(victim)
        fut.set_exception(Overloaded(f"queue full ({self.max_queue} waiting)"))
