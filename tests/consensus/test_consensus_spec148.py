"""The rule differences of the spec-148 runtime (SPEC148.md) against the current chain."""
import numpy as np
import pytest

from consensus import EpochInput, YumaParams, run_epoch, stored_u16

CUR, OLD = YumaParams(), YumaParams(variant="spec148")


def test_permits_include_zero_stake_when_n_below_k():
    inp = EpochInput(stake=[5.0, 0.0, 0.0], weights=np.zeros((3, 3)))
    assert run_epoch(inp, CUR).new_validator_permit.tolist() == [True, False, False]
    assert run_epoch(inp, OLD).new_validator_permit.tolist() == [True, True, True]


def test_topk_zero_stake_can_win_and_lower_uid_loses_ties():
    inp = EpochInput(stake=[0.0, 5.0, 0.0, 3.0], weights=np.zeros((4, 4)))
    k3 = {"max_allowed_validators": 3}
    assert run_epoch(inp, YumaParams(variant="spec148", **k3)).new_validator_permit.tolist() == [False, True, True, True]
    assert run_epoch(inp, YumaParams(**k3)).new_validator_permit.tolist() == [False, True, False, True]


def test_no_owner_exception():
    # uid 0 owns the subnet, has no stake and weights itself and miner 2; uid 1 validates.
    w = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    inp = EpochInput(stake=[0.0, 1.0, 0.0], weights=w, owner_uid=0)
    p3 = {"max_allowed_validators": 2}
    cur = run_epoch(inp, YumaParams(**p3))
    old = run_epoch(inp, YumaParams(variant="spec148", **p3))
    assert cur.new_validator_permit[0] and not old.new_validator_permit[0]  # forced only today
    assert cur.new_validator_permit.tolist() == [True, True, False]
    assert old.new_validator_permit.tolist() == [False, True, True]  # plain top-2: uid 0 loses the tie


def test_owner_self_weight_kept_only_by_current_rules():
    w = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    inp = EpochInput(stake=[0.7, 0.3, 0.0], weights=w, owner_uid=0)
    cur, old = run_epoch(inp, CUR), run_epoch(inp, OLD)
    assert cur.consensus[0] == 1.0 and cur.validator_trust[0] == 1.0  # owner's self-weight counts
    assert old.consensus[0] == 0.0 and old.validator_trust[0] == 0.0  # masked: 30% support < kappa


def test_bond_mask_per_cell_versus_whole_column():
    """uid 3 re-registered at block 100; validator 0 set weights after it (block 150), validator 1 before (90)."""
    n = 4
    w = np.zeros((n, n))
    w[0, 3] = w[1, 3] = 1.0
    w[0, 2] = w[1, 2] = 1.0
    bonds = np.zeros((n, n))
    bonds[0, 3] = bonds[1, 3] = 1.0  # both held bonds on the previous occupant of uid 3
    inp = EpochInput(stake=[1.0, 1.0, 0.0, 0.0], weights=w, bonds=bonds,
                     validator_permit=[True, True, False, False], last_update=[150, 90, 0, 0],
                     block_at_registration=[0, 0, 0, 100], current_block=160, activity_cutoff=5000,
                     last_tempo=120)
    old, cur = run_epoch(inp, OLD), run_epoch(inp, YumaParams(max_allowed_validators=2))
    # spec148: only validator 1's cell is outdated; validator 0 keeps its old bond on the new occupant
    # and buys more (its weight on 3 survives), so it owns all of column 3
    assert old.bonds_ema_normalized[0, 3] == pytest.approx(1.0)
    assert old.bonds_ema_normalized[1, 3] == 0.0
    # current: uid 3 registered at 100 < last_tempo 120, so the column is not "recent" and both old
    # bonds stay; validator 1's weight on 3 is still outdated
    assert cur.bonds_ema_normalized[1, 3] == pytest.approx(0.9 * 0.5)
    recent = run_epoch(EpochInput(**{**inp.__dict__, "last_tempo": 100}), YumaParams(max_allowed_validators=2))
    assert recent.bonds_ema_normalized[0, 3] == pytest.approx(1.0)  # whole column dropped, 0 rebuys it
    assert recent.bonds_ema_normalized[1, 3] == 0.0


def test_trust_and_pruning_scores_formulas():
    # validators 0 (0.6) and 1 (0.4); miners 2 and 3
    w = np.zeros((4, 4))
    w[0, 2:] = [0.75, 0.25]
    w[1, 2:] = [0.25, 0.75]
    res = run_epoch(EpochInput(stake=[0.6, 0.4, 0.0, 0.0], weights=w), OLD)
    assert res.consensus[2:].tolist() == [0.75, 0.25]  # the 0.6 validator is the majority
    preranks = np.array([0.6 * 0.75 + 0.4 * 0.25, 0.6 * 0.25 + 0.4 * 0.75])
    ranks = np.array([0.6 * 0.75 + 0.4 * 0.25, 0.6 * 0.25 + 0.4 * 0.25])
    np.testing.assert_allclose(res.ranks[2:], ranks)
    np.testing.assert_allclose(res.trust, [0.0, 0.0, *(ranks / preranks)])
    np.testing.assert_allclose(res.pruning_scores, res.combined_share / res.combined_share.max())
    assert run_epoch(EpochInput(stake=[0.6, 0.4, 0.0, 0.0], weights=w), CUR).trust is None
    u = stored_u16(res)
    assert u["Rank"].tolist() == np.floor(res.incentive * 65535).astype(int).tolist()
    assert u["PruningScores"].max() == 65535
    np.testing.assert_array_equal(u["PruningScores"], np.floor(res.pruning_scores * 65535 + 0.5))


def test_spec148_rejects_yuma3():
    with pytest.raises(ValueError, match="variant"):
        YumaParams(variant="spec148", yuma3=True)
