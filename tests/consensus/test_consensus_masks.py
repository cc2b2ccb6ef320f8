"""Masks of the current rules: activity, stake threshold, commit-reveal, outdated weights, liquid alpha."""
import numpy as np
import pytest

from consensus import EpochInput, YumaParams, run_epoch


def net():
    # uids 0, 1 validate (stake 3, 1); uids 2, 3 are miners
    w = np.zeros((4, 4))
    w[0, 2] = 1.0
    w[1, 3] = 1.0
    return dict(stake=[3.0, 1.0, 0.0, 0.0], weights=w)


def test_inactive_validator_loses_active_stake_but_keeps_permit():
    res = run_epoch(EpochInput(**net(), last_update=[100, 10, 0, 0], current_block=200, activity_cutoff=100))
    assert res.active_stake.tolist() == [1.0, 0.0, 0.0, 0.0]  # 10 + 100 < 200: inactive
    assert res.new_validator_permit[:2].tolist() == [True, True]
    at_edge = run_epoch(EpochInput(**net(), last_update=[100, 100, 0, 0], current_block=200, activity_cutoff=100))
    assert at_edge.active_stake[1] == 0.25  # strict inequality: 100 + 100 is not < 200


def test_stake_threshold_spares_the_owner():
    p = YumaParams(stake_threshold=2.0)
    assert run_epoch(EpochInput(**net()), p).stake_normalized.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert run_epoch(EpochInput(**net(), owner_uid=1), p).stake_normalized.tolist() == [0.75, 0.25, 0.0, 0.0]
    # spec148 has no threshold
    assert run_epoch(EpochInput(**net()), YumaParams(stake_threshold=2.0, variant="spec148")).stake_normalized[1] == 0.25


def test_outdated_and_commit_reveal_masks():
    base = run_epoch(EpochInput(**net()))
    assert base.consensus[2] == 1.0
    # uid 2 re-registered at block 50; validator 0 last set weights at 40: its weight on 2 is outdated
    inp = dict(**net(), last_update=[40, 60, 0, 0], block_at_registration=[0, 0, 50, 0])
    assert run_epoch(EpochInput(**inp)).consensus[2] == 0.0
    # a pending commit older than the registration masks too (current rules only)
    inp = dict(**net(), last_update=[60, 60, 0, 0], block_at_registration=[0, 0, 50, 0],
               commit_blocks=[45.0, np.inf, np.inf, np.inf])
    assert run_epoch(EpochInput(**inp)).consensus[2] == 0.0
    assert run_epoch(EpochInput(**inp), YumaParams(variant="spec148")).consensus[2] == 1.0
    inp["commit_blocks"] = [55.0, np.inf, np.inf, np.inf]
    assert run_epoch(EpochInput(**inp)).consensus[2] == 1.0


def test_recently_registered_columns_drop_bonds():
    first = run_epoch(EpochInput(**net()))
    assert first.bonds[0, 2] == 1.0
    again = run_epoch(EpochInput(**net(), bonds=first.bonds, validator_permit=first.new_validator_permit,
                                 block_at_registration=[0, 0, 500, 0], last_tempo=500, last_update=[600] * 4))
    # column 2's old bonds are gone; validator 0 buys it afresh: all of column 2 again, from dB alone
    assert again.bonds_ema_normalized[0, 2] == 1.0


def test_lost_permit_clears_bond_row_and_others_keep_theirs():
    first = run_epoch(EpochInput(**net()))
    p1 = YumaParams(max_allowed_validators=1)
    res = run_epoch(EpochInput(**net(), bonds=first.bonds, validator_permit=first.new_validator_permit), p1)
    assert res.new_validator_permit[:2].tolist() == [True, False]
    assert not res.bonds[1].any() and res.bonds[0, 2] == 1.0
    untouched = np.zeros((4, 4))
    untouched[3, 2] = 0.5  # a stray row held by a uid that never had a permit stays as it is
    res = run_epoch(EpochInput(**net(), bonds=untouched, validator_permit=[True, True, False, False]))
    assert res.bonds[3, 2] == 0.5


@pytest.mark.parametrize("drop", [True, False])
def test_liquid_alpha_sparse_drop(drop):
    p = YumaParams(yuma3=True, liquid_alpha=True, la_sparse_drop=drop)
    bonds = np.zeros((4, 4))
    bonds[0, 3] = 0.5  # validator 0 holds a bond on miner 3 but no longer weights it
    res = run_epoch(EpochInput(**net(), bonds=bonds, validator_permit=[True, True, False, False]), p)
    if drop:
        assert res.bonds[0, 3] == 0.0  # the chain's sparse EMA resets it
    else:
        assert 0.0 < res.bonds[0, 3] < 0.5  # dense decay
    assert 0.7 <= res.bonds[0, 2] <= 0.9  # bought with alpha in [alpha_low, alpha_high]
