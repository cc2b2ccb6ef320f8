"""Slow refusals for connections that keep getting refused.

A flooder usually runs a bounded loop: N requests in flight, each sent when the previous answer
arrives. Answering its refusals at once lets it spend the axon's whole CPU on them, and honest
requests wait behind the flood. So each source address (an IPv4 address, an IPv6 /64) gets a small
allowance of quick refusals (a token bucket: `rate` per second, `burst` at once; reconnecting does
not renew it) — a validator below min_stake or with a skewed clock still hears why at once — and
past it, a refusal is held for `hold_s` × U(0.5, 1)
(never past the caller's deadline) before it goes out. The jitter keeps held answers from
returning in lockstep, which would turn the flood into bursts. At most `max_held` answers and
`max_held_bytes` of their requests wait at once; beyond that, refusals go out at once again.
"""
from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from urllib.parse import unquote

from protocol.codes import ReturnCode

from .limits import RateLimiter

# what a caller gets for what it sent or who it is: held once its allowance is spent
REFUSALS = frozenset({
    ReturnCode.BLACKLISTED, ReturnCode.RATE_LIMITED, ReturnCode.UNAUTHENTICATED, ReturnCode.REPLAYED,
    ReturnCode.STALE, ReturnCode.WRONG_RECEIVER, ReturnCode.NOT_FOUND, ReturnCode.VERSION_MISMATCH,
    ReturnCode.INVALID_REQUEST, ReturnCode.PAYLOAD_TOO_LARGE,
})
_MARGIN_S = 0.05  # the held answer still reaches the caller before its deadline


class Tarpit:
    def __init__(self, *, rate: float, burst: float, hold_s: float, max_held: int, max_held_bytes: int,
                 max_peers: int = 65_536, clock=time.monotonic, uniform=random.uniform):
        self.hold_s, self.max_held, self.max_held_bytes = hold_s, max_held, max_held_bytes
        self._allowance = RateLimiter(rate, burst, max_keys=max_peers, clock=clock)
        self._uniform = uniform
        self.held = 0          # answers waiting now
        self.held_bytes = 0    # size of their requests
        self.total = 0         # answers ever held

    def delay(self, code: ReturnCode, peer: str, remaining: float | None) -> float:
        """Seconds to hold this answer (0: send it now). Spends the peer's allowance on refusals.

        peer: gRPC's peer string of the connection (`context.peer()`)."""
        if code not in REFUSALS or self.hold_s <= 0 or self._allowance.spend(source(peer)):
            return 0.0
        limit = self.hold_s if remaining is None else min(self.hold_s, remaining - _MARGIN_S)
        return max(0.0, limit * self._uniform(0.5, 1.0))

    async def hold(self, seconds: float, nbytes: int) -> None:
        """Wait `seconds` unless the bounds are reached (then return at once)."""
        if seconds <= 0 or self.held >= self.max_held or self.held_bytes + nbytes > self.max_held_bytes:
            return
        self.held += 1
        self.held_bytes += nbytes
        self.total += 1
        try:
            await asyncio.sleep(seconds)
        finally:
            self.held -= 1
            self.held_bytes -= nbytes


def source(peer: str) -> str:
    """Who is behind a gRPC peer string: 'ipv4:1.2.3.4:5678' -> '1.2.3.4', an IPv6 peer -> its /64
    (one host's share of addresses); anything else (unix sockets) is keyed as it is."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        host = unquote(rest).rpartition(":")[0].strip("[]")
        try:
            return str(ipaddress.IPv6Network(f"{host}/64", strict=False))
        except ValueError:
            return host
    return peer
