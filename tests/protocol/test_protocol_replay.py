"""ReplayGuard: each signed message is accepted at most once; memory stays bounded; fail closed."""
import threading

import pytest
from hypothesis import given, settings, strategies as st

from protocol.codes import ReturnCode
from protocol.replay import ReplayGuard

S = 10**9
NOW = 1_700_000_000 * S
OK, REPLAYED, STALE = ReturnCode.SUCCESS, ReturnCode.REPLAYED, ReturnCode.STALE


def test_basic_codes():
    g = ReplayGuard(window_s=10, skew_s=2)
    assert g.check("a", 1, NOW, NOW) == OK
    assert g.check("a", 1, NOW, NOW) == REPLAYED
    assert g.check("b", 1, NOW, NOW) == OK  # nonces are per caller
    assert g.check("a", 2, NOW - 11 * S, NOW) == STALE
    assert g.check("a", 3, NOW + 3 * S, NOW) == STALE
    assert g.check("a", 4, NOW + 2 * S, NOW) == OK
    assert g.precheck("a", 5, NOW, NOW) == OK and g.precheck("a", 5, NOW, NOW) == OK  # precheck records nothing
    assert g.precheck("a", 1, NOW, NOW) == REPLAYED
    assert g.check("a", 1, NOW, NOW + 11 * S) == STALE  # after the window, a replay is stale
    assert g.size == 3  # a1, b1, a4; expiry runs when the next nonce is recorded


def test_entries_expire_after_the_window():
    g = ReplayGuard(window_s=10, max_entries=1000)
    for i in range(100):
        assert g.check("a", i, NOW, NOW) == OK
    assert g.check("a", 1000, NOW + 11 * S, NOW + 11 * S) == OK
    assert g.size == 1


def test_memory_bounded_and_eviction_fails_closed():
    g = ReplayGuard(window_s=60, max_entries=100)
    for i in range(1000):
        assert g.check("a", i, NOW + i, NOW + 1000) == OK
        assert g.size <= 100
    assert g.check("a", 0, NOW, NOW + 1000) == STALE  # evicted early, still refused
    assert g.check("a", 899, NOW + 899, NOW + 1000) == STALE  # the floor covers every evicted one
    assert g.check("a", 950, NOW + 950, NOW + 1000) == REPLAYED
    assert g.check("a", 5000, NOW + 1001, NOW + 1001) == OK  # newer requests still pass


def test_clock_stepping_back_does_not_revive_forgotten_nonces():
    g = ReplayGuard(window_s=10)
    assert g.check("a", 1, NOW, NOW) == OK
    assert g.check("a", 2, NOW + 20 * S, NOW + 20 * S) == OK  # expires nonce 1
    assert g.check("a", 1, NOW, NOW + 5 * S) == STALE


def test_thread_safe_single_acceptance():
    g = ReplayGuard(max_entries=10_000)
    results = []

    def worker():
        results.extend(g.check("a", n, NOW, NOW) for n in range(500))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(OK) == 500 and results.count(REPLAYED) == 1500


def test_rejects_bad_config():
    with pytest.raises(ValueError):
        ReplayGuard(window_s=0)
    with pytest.raises(ValueError):
        ReplayGuard(max_entries=0)


events = st.lists(st.tuples(
    st.sampled_from(["a", "b", "c"]),                 # caller
    st.integers(0, 20),                                # nonce
    st.integers(-15 * S, 15 * S),                      # timestamp offset from now
    st.integers(0, 3 * S),                             # clock advance before this event
), max_size=120)


@settings(max_examples=200, deadline=None)
@given(events, st.integers(1, 30), st.integers(1, 20), st.integers(0, 5))
def test_property_no_message_accepted_twice(evs, max_entries, window_s, skew_s):
    g = ReplayGuard(window_s=window_s, max_entries=max_entries, skew_s=skew_s)
    now, accepted = NOW, set()
    for caller, nonce, dt, advance in evs:
        now += advance
        ts = now + dt
        code = g.check(caller, nonce, ts, now)
        assert code in (OK, REPLAYED, STALE)
        if code == OK:
            assert (caller, nonce, ts) not in accepted  # the same signed message never passes twice
            assert now - window_s * S <= ts <= now + skew_s * S
            accepted.add((caller, nonce, ts))
        assert g.size <= max_entries


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**9)), max_size=60))
def test_property_fresh_distinct_nonces_accepted_while_room(items):
    g = ReplayGuard(window_s=10, max_entries=1000)
    seen = set()
    for nonce, jitter in items:
        code = g.check("a", nonce, NOW + jitter, NOW + 10**9)
        assert code == (REPLAYED if nonce in seen else OK)
        seen.add(nonce)
