"""u16 storage helpers, quantize_bonds, and input validation errors."""
import numpy as np
import pytest

from consensus import EpochInput, YumaParams, emission_amounts, run_epoch, stored_u16, to_u16


def test_to_u16_floor_and_exact_roundtrip():
    assert to_u16([0.0, 1.0, 0.5, 0.99999]).tolist() == [0, 65535, 32767, 65534]
    k = np.arange(65536)
    assert np.array_equal(to_u16(k / 65535), k)  # every stored proportion reads back to itself
    assert to_u16([2.0, -1.0]).tolist() == [65535, 0]
    with pytest.raises(ValueError, match="NaN"):
        to_u16([np.nan])


def test_emission_amounts_floor():
    assert emission_amounts([0.5, 0.25, 1 / 3], 1_000_000_000).tolist() == [500_000_000, 250_000_000, 333_333_333]


@pytest.mark.parametrize("yuma3", [False, True])
def test_quantize_bonds_stores_u16_values(yuma3):
    rng = np.random.default_rng(7)
    n = 12
    stake, w = rng.random(n), rng.random((n, n))
    bonds = {}
    for q in (False, True):
        p = YumaParams(yuma3=yuma3, quantize_bonds=q)
        res = run_epoch(EpochInput(stake=stake, weights=w), p)
        res = run_epoch(EpochInput(stake=stake, weights=w, bonds=res.bonds,
                                   validator_permit=res.new_validator_permit), p)
        bonds[q] = res.bonds
    assert np.array_equal(to_u16(bonds[True]) / 65535, bonds[True])
    assert not np.array_equal(bonds[False], bonds[True])
    assert np.abs(bonds[True] - bonds[False]).max() < 3 / 65535


def test_stored_u16_keys():
    res = run_epoch(EpochInput(stake=[1.0, 0.0], weights=[[0.0, 1.0], [0.0, 0.0]]))
    u = stored_u16(res)
    assert u["Incentive"].tolist() == [0, 65535] and u["Dividends"].tolist() == [65535, 0]
    assert "PruningScores" not in u


GOOD = dict(stake=[1.0, 2.0], weights=[[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize("change, name", [
    (dict(stake=[[1.0, 2.0]]), "stake"),
    (dict(stake=["a", "b"]), "stake"),
    (dict(stake=None), "stake"),
    (dict(stake=[1.0, -2.0]), "stake"),
    (dict(stake=[1.0, np.nan]), "stake"),
    (dict(stake=[1.0, np.inf]), "stake"),
    (dict(weights=[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), "weights"),
    (dict(weights=[[0.0, -1.0], [1.0, 0.0]]), "weights"),
    (dict(weights=[[0.0, np.nan], [1.0, 0.0]]), "weights"),
    (dict(weights=[["a", "b"], [1.0, 0.0]]), "weights"),
    (dict(bonds=np.zeros((3, 3))), "bonds"),
    (dict(bonds=[[0.0, np.nan], [0.0, 0.0]]), "bonds"),
    (dict(validator_permit=[True]), "validator_permit"),
    (dict(validator_permit=[2, 0]), "validator_permit"),
    (dict(last_update=[1, 2, 3]), "last_update"),
    (dict(block_at_registration=[0.5, 1.0]), "block_at_registration"),
    (dict(owner_uid=5), "owner_uid"),
    (dict(current_block="soon"), "current_block"),
    (dict(last_tempo=1.5), "last_tempo"),
    (dict(commit_blocks=[np.nan, 1.0]), "commit_blocks"),
])
def test_bad_input_names_the_argument(change, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        run_epoch(EpochInput(**{**GOOD, **change}))


@pytest.mark.parametrize("kw, name", [
    (dict(kappa=1.5), "kappa"), (dict(variant="v2"), "variant"), (dict(bonds_penalty=-0.1), "bonds_penalty"),
    (dict(max_allowed_validators=-1), "max_allowed_validators"), (dict(stake_threshold=np.nan), "stake_threshold"),
    (dict(alpha_low=0.95), "alpha_low"),
])
def test_bad_params_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        YumaParams(**kw)
