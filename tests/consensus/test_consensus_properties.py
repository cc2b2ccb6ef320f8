"""Property tests (hypothesis) of run_epoch over random uid-space subnets."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from consensus import EpochInput, YumaParams, run_epoch

FIELDS = ("consensus", "incentive", "dividends", "validator_trust", "ranks", "active_stake",
          "stake_normalized", "server_share", "validator_share", "combined_share")
VERSIONS = [YumaParams(), YumaParams(yuma3=True), YumaParams(yuma3=True, liquid_alpha=True),
            YumaParams(variant="spec148")]
weight_el = st.one_of(st.just(0.0), st.floats(0.0, 1.0), st.integers(0, 65535).map(float))


@st.composite
def subnets(draw, min_n=2, max_n=10):
    n = draw(st.integers(min_n, max_n))
    stake = draw(arrays(np.float64, n, elements=st.one_of(st.just(0.0), st.floats(0.0, 1e6))))
    weights = draw(arrays(np.float64, (n, n), elements=weight_el))
    return stake, weights


def two_epochs(stake, weights, params):
    first = run_epoch(EpochInput(stake=stake, weights=weights), params)
    return run_epoch(EpochInput(stake=stake, weights=weights, bonds=first.bonds,
                                validator_permit=first.new_validator_permit), params)


@settings(max_examples=40, deadline=None)
@given(subnets(), st.sampled_from(VERSIONS))
def test_finite_shares_and_incentive_proportional_to_ranks(net, params):
    res = two_epochs(*net, params)
    for f in FIELDS + ("bonds",):
        assert np.all(np.isfinite(getattr(res, f))), f
    for total in (res.combined_share.sum(), res.server_share.sum() + res.validator_share.sum()):
        assert np.isclose(total, 1.0) or total == 0.0
    assert np.isclose(res.server_share.sum(), 0.5) or res.server_share.sum() == 0.0
    assert np.allclose(res.incentive * res.ranks.sum(), res.ranks, atol=1e-12)
    assert np.all((res.consensus >= 0) & (res.consensus <= 1 + 1e-12))
    assert np.all(res.bonds >= 0) and np.all(res.bonds <= 1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(subnets(), st.sampled_from(VERSIONS), st.randoms(use_true_random=False))
def test_permuting_uids_permutes_outputs(net, params, rnd):
    stake, weights = net
    n = len(stake)
    perm = np.array(rnd.sample(range(n), n))
    base = two_epochs(stake, weights, params)
    moved = two_epochs(stake[perm], weights[np.ix_(perm, perm)], params)
    for f in FIELDS:
        np.testing.assert_allclose(getattr(moved, f), getattr(base, f)[perm], atol=1e-9, err_msg=f)
    np.testing.assert_allclose(moved.bonds, base.bonds[np.ix_(perm, perm)], atol=1e-9)
    assert np.array_equal(moved.new_validator_permit, base.new_validator_permit[perm])


@settings(max_examples=40, deadline=None)
@given(subnets(), arrays(np.float64, 10, elements=st.floats(0.0, 1.0)), st.sampled_from(VERSIONS))
def test_self_weight_is_ignored(net, diag, params):
    stake, weights = net
    n = len(stake)
    other = weights.copy()
    other[np.arange(n), np.arange(n)] = diag[:n]
    a, b = two_epochs(stake, weights, params), two_epochs(stake, other, params)
    for f in FIELDS + ("bonds",):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 6), st.integers(1, 4), st.integers(2, 6),
    st.floats(0.01, 0.49), st.data(),
)
def test_minority_coalition_cannot_lift_consensus(n_honest, n_coal, n_miners, coal_share, data):
    """A coalition with < kappa of the active stake cannot push c_j above the honest max on column j."""
    v = n_honest + n_coal
    n = v + n_miners
    hs = data.draw(arrays(np.float64, n_honest, elements=st.floats(0.1, 1.0)))
    cs = data.draw(arrays(np.float64, n_coal, elements=st.floats(0.1, 1.0)))
    stake = np.zeros(n)
    stake[:n_honest] = hs / hs.sum() * (1 - coal_share)
    stake[n_honest:v] = cs / cs.sum() * coal_share
    w = np.zeros((n, n))
    w[:v, v:] = data.draw(arrays(np.float64, (v, n_miners), elements=st.floats(0.0, 1.0)))
    w[:v, v:] += 1e-3  # every row sets some weight
    target = data.draw(st.integers(v, n - 1))
    w[n_honest:v, :] = 0.0
    w[n_honest:v, target] = 1.0  # the coalition puts everything on its own miner
    res = run_epoch(EpochInput(stake=stake, weights=w))
    honest = w[:n_honest] / w[:n_honest].sum(axis=1, keepdims=True)
    assert res.consensus[target] <= honest[:, target].max() + 1e-12
    assert res.incentive[target] <= 1.0
