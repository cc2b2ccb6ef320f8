"""The API's admission policy on its own (no network): stake → rate, buckets, chain look-ups, hooks."""
from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.types import RAO_PER_TAO
from neurons.axon.routes import Call, Caller, CallerInfo, Reject
from neurons.validator.api_auth import OFF_SUBNET, ApiAuth, StakeBook, StakeRateLimiter, stake_rate
from protocol.codes import ReturnCode


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def on_subnet(hotkey: str, stake: float) -> Caller:
    return Caller(hotkey, CallerInfo(uid=1, stake=stake), "S.mixture")


def off_subnet(hotkey: str) -> Caller:
    return Caller(hotkey, OFF_SUBNET, "S.mixture")


@given(st.floats(0, 1e7), st.floats(0, 1e7), st.floats(0.01, 10), st.floats(0, 1), st.floats(0.01, 1e3))
def test_rate_never_decreases_with_stake_and_is_capped(a, b, base, per_tao, cap):
    lo, hi = sorted((a, b))
    assert stake_rate(lo, base, per_tao, cap) <= stake_rate(hi, base, per_tao, cap) <= cap


def test_bucket_holds_burst_seconds_of_the_stake_rate_and_refills():
    clock = Clock()
    lim = StakeRateLimiter(1.0, 0.1, 50.0, 2.0, clock=clock)   # 100 TAO -> 11/s, burst 22
    assert sum(lim.spend("big", 100.0) for _ in range(40)) == 22
    assert sum(lim.spend("small", 0.0) for _ in range(40)) == 2
    assert not lim.peek("big", 100.0)
    clock.t = 1.0
    assert sum(lim.spend("big", 100.0) for _ in range(40)) == 11
    assert sum(lim.spend("small", 0.0) for _ in range(40)) == 1


def test_peek_spends_nothing():
    lim = StakeRateLimiter(1.0, 0.0, 1.0, 1.0, clock=Clock())
    assert all(lim.peek("k", 0.0) for _ in range(10))
    assert lim.spend("k", 0.0) and not lim.spend("k", 0.0)


def test_chain_lookups_are_cached_and_bounded():
    clock, calls = Clock(), []
    book = StakeBook(lambda hk: calls.append(hk) or 7 * RAO_PER_TAO, ttl_s=60, lookups_per_s=3, clock=clock)
    assert book.stake(off_subnet("a")) is None       # unknown: looked up off this thread
    book.stake(off_subnet("a"))                      # pending or done: never asked twice
    book.settle()
    assert book.stake(off_subnet("a")) == 7.0 and calls == ["a"]
    assert book.stake(on_subnet("m", 3.0)) == 3.0 and calls == ["a"]   # the metagraph needs no look-up
    assert [book.stake(off_subnet(f"x{i}")) for i in range(4)] == [None] * 4
    book.settle()
    assert [book.stake(off_subnet(f"x{i}")) for i in range(4)] == [7.0, 7.0, None, None]  # 3/s in all
    clock.t = 61.0
    assert book.stake(off_subnet("a")) == 7.0        # expired: the stale value serves while it refreshes
    book.settle()
    assert calls.count("a") == 2


def test_a_slow_chain_never_blocks_the_serving_thread():
    """The attack: a flood of fresh hotkeys while the chain answers slowly. The look-up runs on the
    book's own thread; the hook answers at once, and pending look-ups are capped."""
    release, threads = threading.Event(), []

    def slow_stake(hk):
        threads.append(threading.get_ident())
        release.wait(10)
        return 5 * RAO_PER_TAO

    book = StakeBook(slow_stake, lookups_per_s=1000, max_pending=4)
    auth = ApiAuth(book, StakeRateLimiter(1.0, 0.0, 1.0, 1.0), min_stake=1.0)
    for i in range(50):                              # would hang here if a look-up ran on this thread
        assert auth.blacklist(off_subnet(f"fresh{i}")) == (False, "")     # unknown: decided once signed
        with pytest.raises(Reject) as e:
            auth.verify(Call(off_subnet(f"fresh{i}"), {}, {}, "u", 0.0))
        assert e.value.code == ReturnCode.RATE_LIMITED and "retry" in e.value.message
    release.set()
    book.settle()
    assert len(threads) == 4 and threading.get_ident() not in threads
    assert auth.verify(Call(off_subnet("fresh0"), {}, {}, "u", 0.0)) and book.cached(off_subnet("fresh9")) == 0.0


def test_forged_callers_start_no_chain_lookups():
    """The attack: requests claiming a thousand fresh hotkeys, none signed by them. The blacklist
    hook runs before the signature check, so it must not spend the look-up budget on them (else
    the real newcomers behind them would wait)."""
    calls = []
    book = StakeBook(lambda hk: calls.append(hk) or 5 * RAO_PER_TAO, lookups_per_s=3)
    auth = ApiAuth(book, StakeRateLimiter(1.0, 0.0, 1.0, 1.0), min_stake=1.0)
    assert all(auth.blacklist(off_subnet(f"forged{i}")) == (False, "") for i in range(1000))
    book.settle()
    assert calls == []
    with pytest.raises(Reject):                      # a signed request starts its look-up
        auth.verify(Call(off_subnet("real"), {}, {}, "u", 0.0))
    book.settle()
    assert calls == ["real"] and auth.verify(Call(off_subnet("real"), {}, {}, "u", 0.0))


def test_a_failed_lookup_stays_unknown_and_is_asked_again():
    answers = [RuntimeError("node gone"), 3 * RAO_PER_TAO]

    def flaky(hk):
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    book = StakeBook(flaky)
    assert book.stake(off_subnet("a")) is None
    book.settle()
    assert book.stake(off_subnet("a")) is None       # failed: unknown, asked again
    book.settle()
    assert book.stake(off_subnet("a")) == 3.0


def test_min_stake_blacklists_and_zero_serves_everyone():
    lim = lambda: StakeRateLimiter(1.0, 0.0, 1.0, 1.0, clock=Clock())
    strict = ApiAuth(StakeBook(lambda hk: 0), lim(), min_stake=1.0)
    assert strict.blacklist(off_subnet("nobody")) == (False, "")   # unknown: the signature is checked first
    with pytest.raises(Reject) as e:                 # then, unknown yet: no minimum is waived
        strict.verify(Call(off_subnet("nobody"), {}, {}, "u", 0.0))
    assert e.value.code == ReturnCode.RATE_LIMITED
    strict.book.settle()
    blocked, reason = strict.blacklist(off_subnet("nobody"))
    assert blocked and "below the API minimum" in reason
    assert strict.blacklist(on_subnet("m", 0.5))[0] and not strict.blacklist(on_subnet("m", 1.0))[0]
    open_ = ApiAuth(StakeBook(lambda hk: 0), lim(), min_stake=0.0)
    assert open_.blacklist(off_subnet("nobody")) == (False, "")


def test_verify_spends_and_a_drained_caller_is_rate_limited_before_the_signature():
    auth = ApiAuth(StakeBook(None), StakeRateLimiter(1.0, 0.0, 1.0, 1.0, clock=Clock()), min_stake=0.0)
    caller = on_subnet("m", 5.0)
    assert auth.blacklist(caller) == (False, "")
    assert auth.verify(Call(caller, {}, {}, "u", 0.0))
    with pytest.raises(Reject) as e:
        auth.blacklist(caller)
    assert e.value.code == ReturnCode.RATE_LIMITED
    with pytest.raises(Reject):
        auth.verify(Call(caller, {}, {}, "u", 0.0))
    assert auth.priority(caller) == 5.0
