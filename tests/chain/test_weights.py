"""Property tests for chain.weights: float scores → u16 weights the runtime accepts."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chain.types import U16_MAX, AxonInfo, Hyperparameters, Metagraph
from chain.weights import (explain_weights_rejection, max_weight_ok, normalize_max_weight,
                           scores_to_u16)

scores_st = st.lists(st.one_of(st.just(0.0), st.floats(0, 1e6, allow_nan=False)), min_size=1, max_size=64)


@given(scores_st, st.floats(0.01, 1.0))
def test_normalize_max_weight_sums_to_one_under_limit(x, limit):
    x = np.asarray(x)
    y = normalize_max_weight(x, limit)
    assert y.shape == x.shape
    assert np.all(y >= 0)
    assert y.sum() == pytest.approx(1.0)
    if len(x) * limit > 1:
        assert y.max() <= limit + 1e-9


def test_normalize_max_weight_of_huge_scores_does_not_overflow():
    with np.errstate(all="raise"):                       # an overflow would raise FloatingPointError
        y = normalize_max_weight(np.array([1.7e308, 1.7e308, 0.0, 8e307]), 0.5)
    assert y.sum() == pytest.approx(1.0) and y[0] == y[1] and y[3] > y[2] == 0


@given(st.lists(st.floats(0.01, 100), min_size=2, max_size=40), st.floats(0.05, 1.0))
def test_normalize_max_weight_keeps_order_and_uncapped_ratios(x, limit):
    x = np.asarray(x)
    y = normalize_max_weight(x, limit)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(y[order]) >= -1e-12)          # monotone in the scores
    free = y < limit - 1e-9
    if free.sum() >= 2 and len(x) * limit > 1:           # uncapped entries keep their ratios
        i, j = np.flatnonzero(free)[:2]
        assert y[i] / y[j] == pytest.approx(x[i] / x[j], rel=1e-9)


@settings(max_examples=300)
@given(scores_st, st.integers(0, 70), st.integers(1, U16_MAX))
def test_scores_to_u16_is_accepted_by_chain_rules(scores, min_allowed, limit):
    uids, values = scores_to_u16(scores, min_allowed_weights=min_allowed, max_weight_limit=limit)
    assert len(uids) == len(values)
    assert len(set(uids)) == len(uids) and all(0 <= u < len(scores) for u in uids)
    assert all(0 < v <= U16_MAX for v in values)
    need = min(min_allowed, len(scores))
    if values:
        assert max(values) == U16_MAX
        assert len(values) >= need
        if len(scores) * max(limit - 1, 1) / U16_MAX > 1:   # satisfiable limits are always honoured
            assert max_weight_ok(values, limit)
    else:
        assert need == 0 and not any(s > 0 for s in scores)


@given(scores_st)
def test_scores_to_u16_drops_zeros_and_keeps_ranking(scores):
    uids, values = scores_to_u16(scores)
    top = max(scores)
    assert set(uids) == {i for i, s in enumerate(scores) if s > top * 1e-12}  # negligible scores count as 0
    by_uid = dict(zip(uids, values))
    for a in uids:
        for b in uids:
            if scores[a] > scores[b]:
                assert by_uid[a] >= by_uid[b]


def test_scores_to_u16_examples():
    assert scores_to_u16([0.0, 0.5, 1.0]) == ([1, 2], [32768, 65535])
    assert scores_to_u16([0, 0, 0]) == ([], [])
    uids, values = scores_to_u16([0, 0, 0, 1.0], min_allowed_weights=3)
    assert uids[-1] == 3 and len(uids) == 3 and values[-1] == U16_MAX
    uids, values = scores_to_u16([10, 1, 1, 1], uids=[7, 3, 5, 9], max_weight_limit=U16_MAX // 2)
    assert uids == [7, 3, 5, 9] and max_weight_ok(values, U16_MAX // 2)
    assert scores_to_u16([float("nan"), -1, 2]) == ([2], [U16_MAX])
    with pytest.raises(ValueError):
        scores_to_u16([1, 2], uids=[1, 1])


def test_max_weight_ok_matches_runtime_rule():
    assert max_weight_ok([65535, 65535], 32768)        # 50% <= 50.0008%
    assert not max_weight_ok([65535, 65534], 32767)    # 50.0004% > 49.9992%
    assert max_weight_ok([65535], U16_MAX)


def _metagraph(n=4, permits=(True, False, False, False), last_update=(0, 0, 0, 0), block=100) -> Metagraph:
    z = np.zeros(n)
    return Metagraph(netuid=1, block=block, uids=np.arange(n), hotkeys=[f"hk{i}" for i in range(n)],
                     coldkeys=[f"ck{i}" for i in range(n)], stake=z, consensus=z, incentive=z, dividends=z,
                     validator_trust=z, validator_permit=np.array(permits), emission=z,
                     last_update=np.array(last_update), block_at_registration=np.zeros(n, dtype=np.int64),
                     axons=[AxonInfo("0.0.0.0", 0)] * n, weights=np.zeros((n, n)), bonds=np.zeros((n, n)))


def test_explain_weights_rejection_reasons():
    hp = Hyperparameters(weights_rate_limit=10, min_allowed_weights=2, weights_version=3)
    mg = _metagraph(last_update=(95, 0, 0, 0))
    ok = dict(uids=[1, 2], values=[65535, 100], version_key=3)
    assert "not registered" in explain_weights_rejection(mg, hp, "nobody", **ok)
    assert "version key 1" in explain_weights_rejection(mg, hp, "hk0", [1, 2], [1, 1], 1)
    msg = explain_weights_rejection(mg, hp, "hk0", **ok)
    assert "too soon" in msg and "wait 4 more blocks" in msg
    assert explain_weights_rejection(mg, hp, "hk0", block=105, **ok) is None
    assert "no validator permit" in explain_weights_rejection(mg, hp, "hk1", **ok)
    assert explain_weights_rejection(mg, hp, "hk1", [1], [65535], 3) is None           # self weight is allowed
    assert "too few weights" in explain_weights_rejection(mg, hp, "hk0", [1], [65535], 3, block=200)
    assert "appears twice" in explain_weights_rejection(mg, hp, "hk0", [1, 1], [1, 1], 3, block=200)
    assert "does not exist" in explain_weights_rejection(mg, hp, "hk0", [1, 9], [1, 1], 3, block=200)
    hp2 = Hyperparameters(weights_rate_limit=0, max_weight_limit=U16_MAX // 2)
    assert "max_weight_limit" in explain_weights_rejection(mg, hp2, "hk0", [1, 2], [65535, 100])
    hp3 = Hyperparameters(commit_reveal_enabled=True)
    assert "commit-reveal is on" in explain_weights_rejection(mg, hp3, "hk0", [1, 2], [1, 1])
    assert "too soon" in explain_weights_rejection(mg, hp3, "hk0", [1, 2], [1, 1], commit=True)  # commits are rate-limited
    assert explain_weights_rejection(mg, hp3, "hk0", [1, 2], [1, 1], commit=True, block=200) is None


def test_scores_to_u16_with_subnormal_and_huge_scores():
    # found by hypothesis: a subnormal top score made the fill share underflow to 0
    assert scores_to_u16([0.0, 5e-324], min_allowed_weights=2)[0] == [0, 1]
    uids, values = scores_to_u16([1e308, 1e308, 1e308])
    assert uids == [0, 1, 2] and values == [65535] * 3
