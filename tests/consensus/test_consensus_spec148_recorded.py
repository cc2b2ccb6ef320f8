"""The spec148 variant against epochs recorded from the real spec-148 runtime, in u16 units.

Recordings: tests/consensus/recordings/*.json, made by scripts/record_spec148.py (inputs stored at
block B-1, outputs stored at the epoch block B, raw integers). Reached (max |diff| over all epochs):
  fixed_point=True: 0 in every stored field (Consensus, Incentive, Dividends, ValidatorTrust, Rank,
                    Trust, PruningScores, Emission in rao, ValidatorPermit, Bonds).
  float64:          0 in Incentive, Dividends, Rank, Trust, PruningScores, ValidatorPermit;
                    <= 1 in Consensus and ValidatorTrust, <= 2 in Bonds, <= 8 rao of Emission.
Run this file directly for the per-field table.
"""

import numpy as np
import pytest
from recorded import active_mismatches, chain_breaks, load, over_tolerance

from consensus import EpochInput, YumaParams, emission_amounts, run_epoch, stored_u16

RECORDINGS = load("recordings")
FIELDS = ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "Rank", "Trust", "PruningScores",
          "Emission", "ValidatorPermit", "Bonds")
# float64 cannot reproduce the runtime's I32F32 truncations (row-normalised weights, stake and the
# bond EMA are each floored to 2**-32), which moves a floor(x * 65535) across an integer now and then.
# Bonds carry the EMA's error through a column max-upscale; Emission is floor(share * 2**32) * rao.
FLOAT_TOL = {"Consensus": 1, "ValidatorTrust": 1, "Bonds": 2, "Emission": 8}


def epoch_input(i: dict) -> tuple[EpochInput, dict]:
    inp = EpochInput(stake=i["stake"], weights=i["weights"], bonds=i["bonds"],
                     validator_permit=np.array(i["validator_permit"], dtype=bool), last_update=i["last_update"],
                     block_at_registration=i["block_at_registration"], current_block=i["current_block"],
                     activity_cutoff=i["activity_cutoff"])
    params = dict(variant="spec148", kappa=i["kappa"] / 65535, bonds_moving_average=float(i["bonds_moving_average"]),
                  max_allowed_validators=i["max_allowed_validators"])
    return inp, params


def ours(epoch: dict, fixed_point: bool) -> dict[str, np.ndarray]:
    """What our epoch would store for a recorded epoch (float64: u16 bond storage emulated)."""
    inp, params = epoch_input(epoch["inputs"])
    res = run_epoch(inp, YumaParams(**params, fixed_point=fixed_point, quantize_bonds=not fixed_point))
    out = stored_u16(res)
    out["Emission"] = emission_amounts(res.combined_share, epoch["inputs"]["rao_emission"])
    return out


def max_diffs(epoch: dict, fixed_point: bool) -> dict[str, int]:
    got = ours(epoch, fixed_point)
    want = epoch["outputs"]
    return {f: int(np.abs(np.asarray(got[f], dtype=np.int64) - np.asarray(want[f], dtype=np.int64)).max())
            for f in FIELDS}


def summary(fixed_point: bool) -> dict[str, dict[str, int]]:
    """scenario -> field -> max |diff| over its epochs."""
    return {name: {f: max(max_diffs(e, fixed_point)[f] for e in rec["epochs"]) for f in FIELDS}
            for name, rec in RECORDINGS.items()}


def test_recordings_cover_the_spec148_rules():
    assert {"healthy", "sparse", "copier", "inactive", "permits_lost", "reregistered"} <= set(RECORDINGS), \
        "recordings missing: run scripts/record_spec148.py"
    for rec in RECORDINGS.values():
        assert rec["spec_version"] == 148 and len(rec["epochs"]) >= 3
    lost = RECORDINGS["permits_lost"]["epochs"]
    assert any(any(a and not b for a, b in zip(e["inputs"]["validator_permit"], e["outputs"]["ValidatorPermit"]))
               for e in lost), "no permit was lost"
    assert any(not all(e["outputs"]["Active"]) for e in RECORDINGS["inactive"]["epochs"][1:])
    regs = [e["inputs"]["block_at_registration"] for e in RECORDINGS["reregistered"]["epochs"]]
    assert regs[0] != regs[-1], "no uid was re-registered"


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recordings_chain_epoch_to_epoch(name):
    """Bonds and permits an epoch stores are the next epoch's inputs (no extrinsic touches them)."""
    assert chain_breaks(RECORDINGS[name]["epochs"]) == []


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_fixed_point_reproduces_the_runtime_exactly(name):
    assert over_tolerance(RECORDINGS[name]["epochs"], lambda e: max_diffs(e, fixed_point=True), {}) == []


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_float64_within_stated_u16_tolerance(name):
    assert over_tolerance(RECORDINGS[name]["epochs"], lambda e: max_diffs(e, fixed_point=False), FLOAT_TOL) == []


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_active_follows_the_activity_cutoff(name):
    assert active_mismatches(RECORDINGS[name]["epochs"]) == []


def test_emission_never_exceeds_what_the_epoch_drained():
    for rec in RECORDINGS.values():
        for epoch in rec["epochs"]:
            assert 0 < sum(epoch["outputs"]["Emission"]) <= epoch["inputs"]["rao_emission"]


if __name__ == "__main__":
    for fixed in (True, False):
        table = summary(fixed)
        print(f"\nmax |ours - runtime| in u16 units (Emission in rao), {'fixed_point=True' if fixed else 'float64'}")
        short = {"ValidatorTrust": "VTrust", "PruningScores": "Pruning", "ValidatorPermit": "VPermit"}
        print(f"{'scenario':<14}" + "".join(f"{short.get(f, f):>10}" for f in FIELDS))
        for name, row in table.items():
            print(f"{name:<14}" + "".join(f"{row[f]:>10}" for f in FIELDS))
