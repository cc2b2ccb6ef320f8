"""Replay guard: each (caller, nonce) is accepted once, and only with a fresh timestamp.

A request is fresh when  now - window_s <= timestamp <= now + skew_s  and it is newer than the
guard's eviction floor. Accepted nonces are remembered until their timestamp leaves the window
(TTL); after that a replay is STALE instead of REPLAYED, so nothing acceptable is forgotten.

Memory is capped at max_entries: when full, the oldest entry is evicted and, if it was still
inside the window, the floor rises to its timestamp, so every request at or before the floor is
refused as STALE. A flood therefore shrinks the accepted window; it never opens a replay.
The same floor makes a restart safe: the server calls refuse_until(start time), so a request
accepted by the previous process (whose nonces are gone) is STALE, never accepted again.
Callers are keyed by their public key (bytes; envelope.caller_key), one entry per key.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from protocol.codes import ReturnCode

_NS = 1_000_000_000


class ReplayGuard:
    def __init__(self, window_s: float = 60.0, max_entries: int = 100_000, skew_s: float = 15.0):
        if window_s <= 0 or skew_s < 0 or max_entries < 1:
            raise ValueError("ReplayGuard needs window_s > 0, skew_s >= 0 and max_entries >= 1")
        self.window_ns = int(window_s * _NS)
        self.skew_ns = int(skew_s * _NS)
        self.max_entries = int(max_entries)
        self._seen: OrderedDict[tuple[bytes | str, int], int] = OrderedDict()  # (caller, nonce) -> timestamp_ns
        self._floor = -1  # timestamps <= floor are refused (an evicted live entry might match them)
        self._high = 0  # latest now_ns seen: a clock stepping back must not revive forgotten nonces
        self._lock = threading.Lock()

    def refuse_until(self, timestamp_ns: int) -> None:
        """Refuse (STALE) every request timestamped at or before `timestamp_ns`. A server calls this
        when it starts serving: nonces it accepted before a restart are forgotten, so a request signed
        before the restart must never be accepted again."""
        with self._lock:
            self._floor = max(self._floor, int(timestamp_ns))

    @property
    def size(self) -> int:
        """Nonces remembered now (<= max_entries)."""
        return len(self._seen)

    def _fresh(self, caller: bytes | str, nonce: int, timestamp_ns: int, now_ns: int) -> ReturnCode:
        oldest = max(now_ns, self._high) - self.window_ns
        if timestamp_ns < oldest or timestamp_ns > now_ns + self.skew_ns or timestamp_ns <= self._floor:
            return ReturnCode.STALE
        if (caller, nonce) in self._seen:
            return ReturnCode.REPLAYED
        return ReturnCode.SUCCESS

    def precheck(self, caller: bytes | str, nonce: int, timestamp_ns: int, now_ns: int | None = None) -> ReturnCode:
        """What check() would answer, without recording anything (run it before costly checks)."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            return self._fresh(caller, nonce, timestamp_ns, now_ns)

    def check(self, caller: bytes | str, nonce: int, timestamp_ns: int, now_ns: int | None = None) -> ReturnCode:
        """SUCCESS (and remember the nonce), STALE or REPLAYED. Record only authenticated requests."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            code = self._fresh(caller, nonce, timestamp_ns, now_ns)
            if code != ReturnCode.SUCCESS:
                return code
            self._high = max(self._high, now_ns)
            self._expire(self._high - self.window_ns)
            while len(self._seen) >= self.max_entries:
                _, ts = self._seen.popitem(last=False)
                if ts >= self._high - self.window_ns:
                    self._floor = max(self._floor, ts)
            self._seen[(caller, nonce)] = timestamp_ns
            return code

    def _expire(self, cutoff: int) -> None:
        seen = self._seen
        while seen:
            k, ts = next(iter(seen.items()))
            if ts >= cutoff:
                break
            del seen[k]
