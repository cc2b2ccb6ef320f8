"""Per-hotkey admission limits: a token-bucket rate limit and an in-flight concurrency cap.

Both are bounded in memory: at most `max_keys` hotkeys are tracked; the least recently seen
is forgotten first (a forgotten hotkey starts again with a full bucket, which only helps it
by `burst` requests — far less than what an unbounded table would cost under a flood of
fresh hotkeys).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token bucket per hotkey: `rate` requests/s sustained, `burst` at once.

    `peek(key)` says whether a request would pass without spending a token, so the caller can
    reject a drained caller before the (costly) signature check and still `spend(key)` only
    after the signature proved the request really comes from that hotkey — a forger can then
    never drain an honest validator's bucket.
    """

    def __init__(self, rate: float, burst: float, *, max_keys: int = 65_536, clock=time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_keys, self._clock = float(rate), float(burst), max_keys, clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _refill(self, key: str) -> _Bucket:
        now = self._clock()
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(self.burst, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            self._buckets.move_to_end(key)
        return b

    def peek(self, key: str) -> bool:
        return self._refill(key).tokens >= 1.0

    def spend(self, key: str) -> bool:
        b = self._refill(key)
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True

    def __len__(self) -> int:
        return len(self._buckets)


class ConcurrencyCap:
    """At most `limit` requests of one hotkey admitted (queued or running) at a time."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._inflight: dict[str, int] = {}

    def try_acquire(self, key: str) -> bool:
        n = self._inflight.get(key, 0)
        if n >= self.limit:
            return False
        self._inflight[key] = n + 1
        return True

    def release(self, key: str) -> None:
        n = self._inflight.get(key, 0) - 1
        if n > 0:
            self._inflight[key] = n
        else:  # entries vanish at zero, so the table holds only callers with work in flight
            self._inflight.pop(key, None)

    def __len__(self) -> int:
        return len(self._inflight)
