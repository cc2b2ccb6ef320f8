"""The spec-148 epoch in I32F32 fixed point (fixed_point=True) against float64 and hand-computed units."""
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consensus import EpochInput, YumaParams, emission_amounts, run_epoch, stored_u16

FIX = YumaParams(variant="spec148", fixed_point=True)
FLT = YumaParams(variant="spec148", quantize_bonds=True)


def test_validator_trust_loses_a_unit_where_float_does_not():
    # one validator splits weight evenly over three miners: 3 * floor(2**32 / 3) = 2**32 - 1
    w = np.zeros((4, 4))
    w[0, 1:] = 65535
    inp = EpochInput(stake=[10**12, 0, 0, 0], weights=w)
    assert stored_u16(run_epoch(inp, FIX))["ValidatorTrust"][0] == 65534
    assert stored_u16(run_epoch(inp, FLT))["ValidatorTrust"][0] == 65535
    fx = run_epoch(inp, FIX)
    assert fx.consensus[1] == (2**32 // 3) / 2**32  # exact I32F32 value
    assert fx.pruning_scores.max() == 1.0


def test_kappa_and_stake_in_fixed_point():
    # stakes 1:2 normalise to floor(2**64/3) >> 32 and floor(2**65/3) >> 32 in I32F32
    res = run_epoch(EpochInput(stake=[1, 2, 0], weights=[[0, 0, 65535], [0, 0, 0], [0, 0, 0]]), FIX)
    assert res.stake_normalized.tolist() == [(2**32 // 3) / 2**32, ((2 * 2**64 // 3) >> 32) / 2**32, 0.0]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.integers(1, 8), st.integers(0, 2**32 - 1), st.integers(1, 4))
@example(6, 7, 588538181, 1)  # a column with consensus 5.6e-6
def test_fixed_point_tracks_float64(v, m, seed, epochs):
    rng = np.random.default_rng(seed)
    n = v + m
    stake = np.concatenate([rng.integers(1, 10**12, v), np.zeros(m, int)])
    w = np.zeros((n, n))
    w[:v] = np.floor(rng.random((v, n)) * 65536) * (rng.random((v, n)) < 0.7)
    bf = pf = bq = pq = None
    for _ in range(epochs):
        f = run_epoch(EpochInput(stake=stake, weights=w, bonds=bf, validator_permit=pf), FIX)
        q = run_epoch(EpochInput(stake=stake, weights=w, bonds=bq, validator_permit=pq), FLT)
        for name in ("consensus", "incentive", "dividends", "validator_trust", "trust", "combined_share",
                     "server_share", "validator_share", "ranks", "active_stake"):
            np.testing.assert_allclose(getattr(f, name), getattr(q, name), atol=2e-6, err_msg=name)  # u16 bond rounding carries over
        # bond columns are normalised by their sum: where a column's consensus is within a few thousand
        # I32F32 steps of 0 (hypothesis found 5.6e-6), the fixed point's 2^-32 resolution is amplified
        # (11 u16 units seen), so bonds are compared where the consensus is well above it
        cols = q.consensus > 1e-4
        assert np.abs(f.bonds - q.bonds)[:, cols].max(initial=0) <= 2 / 65535 + 1e-12
        uf, uq = stored_u16(f), stored_u16(q)
        for key in ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "Trust", "PruningScores"):
            assert np.abs(uf[key].astype(int) - uq[key].astype(int)).max() <= 2, key
        assert np.abs(uf["Bonds"].astype(int) - uq["Bonds"].astype(int))[:, cols].max(initial=0) <= 2
        assert np.array_equal(f.new_validator_permit, q.new_validator_permit)
        bf, pf, bq, pq = f.bonds, f.new_validator_permit, q.bonds, q.new_validator_permit


def test_emission_amounts_follow_i96f32():
    res = run_epoch(EpochInput(stake=[1, 2, 0], weights=[[0, 0, 65535], [0, 0, 65535], [0, 0, 0]]), FIX)
    amounts = emission_amounts(res.combined_share, 10**18)
    raw = (res.combined_share * 2**32).astype(np.int64)
    assert amounts.tolist() == [(int(r) * 10**18) >> 32 for r in raw]


def test_fixed_point_needs_chain_units():
    with pytest.raises(ValueError, match="^stake:.*rao"):
        run_epoch(EpochInput(stake=[0.5, 0.5], weights=np.zeros((2, 2))), FIX)
    with pytest.raises(ValueError, match="^weights:.*u16"):
        run_epoch(EpochInput(stake=[1, 1], weights=[[0, 0.3], [0, 0]]), FIX)
    with pytest.raises(ValueError, match="^fixed_point:"):
        YumaParams(fixed_point=True)


def test_fixed_point_takes_bonds_raw_or_as_proportions():
    w = np.zeros((4, 4))
    w[0, 2:] = [65535, 20000]
    w[1, 2:] = [10000, 65535]
    inp = dict(stake=[3 * 10**9, 10**9, 0, 0], weights=w)
    first = run_epoch(EpochInput(**inp), FIX)
    raw = np.round(first.bonds * 65535)
    assert raw.max() == 65535
    a = run_epoch(EpochInput(**inp, bonds=first.bonds, validator_permit=first.new_validator_permit), FIX)
    b = run_epoch(EpochInput(**inp, bonds=raw, validator_permit=first.new_validator_permit), FIX)
    assert np.array_equal(a.dividends, b.dividends) and np.array_equal(a.bonds, b.bonds)
    with pytest.raises(ValueError, match="^bonds:"):
        run_epoch(EpochInput(**inp, bonds=np.full((4, 4), 0.3), validator_permit=first.new_validator_permit), FIX)


def test_no_permits_and_no_bonds_yet():
    # a subnet's first epoch after registration: stored permits all False, no bonds -> no rows
    inp = EpochInput(stake=[10**12, 7 * 10**11, 0], weights=np.zeros((3, 3)), bonds=np.zeros((3, 3)),
                     validator_permit=[False, False, False])
    res = run_epoch(inp, FIX)
    assert res.new_validator_permit.tolist() == [True, True, True]
    assert not res.bonds.any() and res.combined_share.tolist() == res.stake_normalized.tolist()
