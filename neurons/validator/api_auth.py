"""Who may use a validator's API, and how often: callers pay in stake, not in money.

A caller's stake comes from the subnet's metagraph, or (for hotkeys not on this subnet) from the
chain's stake of that hotkey, cached for `ttl_s`. Its rate grows with stake:
``rate = min(rate_max, rate_per_s + rate_per_tao * stake)`` requests/s, with a burst of
`burst_s` seconds of that rate, in a token bucket per caller public key (`Caller.key`: the axon
refuses addresses in another network's ss58 format, so one key has one allowance). Hooks for `Axon.attach`:

- ``blacklist(caller)``: stake below `min_stake` → BLACKLISTED; drained bucket → RATE_LIMITED
  (only peeks and starts no chain look-up: nothing is spent before the signature is checked, so
  forgers drain nobody, neither a bucket nor the look-up budget);
- ``verify(call)``: after the signature held, starts the look-up of a stake not known yet
  (RATE_LIMITED "retry" meanwhile, when there is a minimum) and spends one token;
- ``priority(caller)``: the stake, so the axon's queue serves bigger stakers first.

Chain look-ups run on a thread of their own, never on the serving loop, and are bounded globally
(`lookups_per_s`, `max_pending`), so a flood of fresh hotkeys can neither stall the loop nor queue
behind the validator's own chain calls. Until its stake is known, a caller counts as holding none.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from chain.types import RAO_PER_TAO
from neurons.axon.routes import Call, Caller, CallerInfo, Reject
from protocol.codes import ReturnCode

log = logging.getLogger(__name__)
OFF_SUBNET = CallerInfo(uid=-1, stake=0.0)  # caller_info of a hotkey not on this subnet: stake looked up later


def stake_rate(stake: float, rate_per_s: float, rate_per_tao: float, rate_max: float) -> float:
    """Requests/s allowed to a caller with `stake` TAO (non-decreasing in stake, at most rate_max)."""
    return min(rate_max, rate_per_s + rate_per_tao * max(0.0, stake))


class _Lru(OrderedDict):
    """An OrderedDict that forgets its least recently touched key beyond `max_keys`."""

    def __init__(self, max_keys: int):
        super().__init__()
        self.max_keys = max_keys

    def touch(self, key, value):
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.max_keys:
            self.popitem(last=False)
        return value


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class StakeRateLimiter:
    """Token bucket per hotkey whose refill rate and capacity follow the caller's current stake."""

    def __init__(self, rate_per_s: float, rate_per_tao: float, rate_max: float, burst_s: float,
                 *, max_keys: int = 65_536, clock: Callable[[], float] = time.monotonic):
        if rate_per_s <= 0 or rate_per_tao < 0 or rate_max <= 0 or burst_s <= 0:
            raise ValueError("rates and burst_s must be positive (rate_per_tao may be 0)")
        self.rate_per_s, self.rate_per_tao, self.rate_max, self.burst_s = rate_per_s, rate_per_tao, rate_max, burst_s
        self._clock = clock
        self._buckets: _Lru = _Lru(max_keys)

    def rate(self, stake: float) -> float:
        return stake_rate(stake, self.rate_per_s, self.rate_per_tao, self.rate_max)

    def capacity(self, stake: float) -> float:
        return max(1.0, self.rate(stake) * self.burst_s)

    def _refill(self, key: str, stake: float) -> _Bucket:
        now, cap = self._clock(), self.capacity(stake)
        b = self._buckets.get(key)
        if b is None:
            return self._buckets.touch(key, _Bucket(cap, now))
        b.tokens = min(cap, b.tokens + (now - b.stamp) * self.rate(stake))
        b.stamp = now
        return self._buckets.touch(key, b)

    def peek(self, key: str, stake: float) -> bool:
        return self._refill(key, stake).tokens >= 1.0

    def spend(self, key: str, stake: float) -> bool:
        b = self._refill(key, stake)
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True


class StakeBook:
    """Stake (TAO) of any hotkey: `index` (the metagraph) first, else `chain_stake` (rao), cached.

    A chain look-up never runs on the caller's thread (the serving loop): a miss schedules it on the
    book's own thread and answers None (unknown for now) or the stale value it is refreshing. Look-ups
    are bounded: `lookups_per_s` in all, at most `max_pending` at once, one per key."""

    def __init__(self, chain_stake: Callable[[str], int] | None, *, ttl_s: float = 60.0,
                 lookups_per_s: float = 20.0, max_pending: int = 64, max_keys: int = 65_536,
                 clock: Callable[[], float] = time.monotonic):
        self.chain_stake, self.ttl_s, self.max_pending, self._clock = chain_stake, ttl_s, max_pending, clock
        self._cache: _Lru = _Lru(max_keys)  # public key -> (stake TAO, looked up at)
        self._budget = StakeRateLimiter(lookups_per_s, 0.0, lookups_per_s, 1.0, max_keys=1, clock=clock)
        self._pending: set[bytes] = set()
        self._lock = threading.Lock()       # the cache and pending set, shared with the look-up thread
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="stake-lookup") if chain_stake else None

    def stake(self, caller: Caller, *, look_up: bool = True) -> float | None:
        """The caller's stake, or None while it is unknown (its look-up is pending or not allowed yet);
        look_up=False only reads the cache."""
        if caller.info.uid >= 0:
            return caller.info.stake
        if self._pool is None:
            return 0.0
        with self._lock:
            hit = self._cache.get(caller.key)
            if hit is not None and self._clock() - hit[1] < self.ttl_s:
                return hit[0]
            if (look_up and caller.key not in self._pending and len(self._pending) < self.max_pending
                    and self._budget.spend("lookups", 0.0)):
                self._pending.add(caller.key)
                self._pool.submit(self._lookup, caller.key, caller.hotkey)
        return hit[0] if hit is not None else None

    def _lookup(self, key: bytes, hotkey: str) -> None:
        try:
            stake = self.chain_stake(hotkey) / RAO_PER_TAO
        except Exception as e:  # noqa: BLE001 - a failed read stays unknown; the next request asks again
            log.warning("stake look-up of %s failed: %s", hotkey, e)
            stake = None
        with self._lock:
            self._pending.discard(key)
            if stake is not None:
                self._cache.touch(key, (stake, self._clock()))

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until the look-ups asked for so far are done (one thread: they finish in order)."""
        if self._pool is not None:
            self._pool.submit(lambda: None).result(timeout_s)

    def cached(self, caller: Caller) -> float:
        """The stake last seen (0 if never looked up): cheap, for the priority hook."""
        if caller.info.uid >= 0:
            return caller.info.stake
        with self._lock:
            hit = self._cache.get(caller.key)
        return hit[0] if hit else 0.0


class ApiAuth:
    """The API's admission policy; its three methods are the axon hooks."""

    def __init__(self, book: StakeBook, limiter: StakeRateLimiter, min_stake: float):
        if min_stake < 0 or math.isnan(min_stake):
            raise ValueError("min_stake must be >= 0")
        self.book, self.limiter, self.min_stake = book, limiter, min_stake

    def blacklist(self, caller: Caller) -> tuple[bool, str]:
        stake = self.book.stake(caller, look_up=False)   # unknown: decided in verify, once signed
        if stake is not None and stake < self.min_stake:
            return True, f"caller stake {stake:g} TAO is below the API minimum of {self.min_stake:g} TAO"
        stake = stake or 0.0
        if not self.limiter.peek(caller.key, stake):
            raise Reject(ReturnCode.RATE_LIMITED, f"over {self.limiter.rate(stake):.3g} requests/s "
                                                  f"(the rate of {stake:g} TAO of stake)")
        return False, ""

    def verify(self, call: Call) -> bool:
        stake = self.book.stake(call.caller)
        if stake is None:  # fails closed: no minimum is waived while the stake is unknown
            if self.min_stake > 0:
                raise Reject(ReturnCode.RATE_LIMITED, "this hotkey's stake is being looked up on chain; "
                                                      "retry in a second")
            stake = 0.0
        if stake < self.min_stake:  # learnt since blacklist peeked
            raise Reject(ReturnCode.BLACKLISTED, f"caller stake {stake:g} TAO is below the API minimum of "
                                                 f"{self.min_stake:g} TAO")
        if not self.limiter.spend(call.caller.key, stake):
            raise Reject(ReturnCode.RATE_LIMITED, f"over {self.limiter.rate(stake):.3g} requests/s")
        return True

    def priority(self, caller: Caller) -> float:
        return self.book.cached(caller)
