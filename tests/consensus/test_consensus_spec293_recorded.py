"""variant="spec293" against epochs recorded from the real spec-293 (dTAO, July 2025) runtime, in u16 units.

Recordings: tests/consensus/recordings293/*.json, made by scripts/record_spec293.py (inputs stored at
block B-1, outputs stored at the epoch block B, raw integers; stake = alpha + TAO stake * TaoWeight).
They are replayed through `neuron audit`'s own path: chain.subtensor.epoch.record_from_raw, then
chain.audit.recompute.
Reached (max |diff| over all epochs):
  fixed_point=True (every epoch without liquid alpha): 0 in every stored field (StakeWeight, Consensus,
                    Incentive, Dividends, ValidatorTrust, Rank, Trust, PruningScores, ValidatorPermit,
                    Bonds, Emission in rao).
  float64 (all, liquid alpha included): 0 in every field but ValidatorTrust (<= 1) and Emission
                    (<= 15 rao of ~9e9): the measured bounds in FLOAT_TOL.
Run this file directly for the per-field table.
"""
import dataclasses

import numpy as np
import pytest
from recorded import active_mismatches, chain_breaks, load, over_tolerance

from chain.audit import epoch_params, recompute
from chain.subtensor.epoch import record_from_raw
from consensus import run_epoch, stored_u16

RECORDINGS = load("recordings293")
FIELDS = ("StakeWeight", "Consensus", "Incentive", "Dividends", "ValidatorTrust", "Rank", "Trust", "PruningScores",
          "ValidatorPermit", "Bonds", "Emission")


def fixed_ok(epoch: dict) -> bool:
    """The fixed-point path covers everything but liquid alpha."""
    return not epoch["inputs"]["liquid_alpha"]


def ours(epoch: dict, fixed_point: bool) -> dict[str, np.ndarray]:
    """What our epoch stores for a recorded epoch, through the audit's own path (chain.audit.recompute
    on the EpochRecord chain.subtensor.epoch builds from the raw integers; Emission in rao of alpha)."""
    return recompute(record_from_raw(epoch, netuid=1), fixed_point=fixed_point)


def max_diffs(epoch: dict, fixed_point: bool) -> dict[str, int]:
    got, want = ours(epoch, fixed_point), epoch["outputs"]
    return {f: int(np.abs(np.asarray(got[f], dtype=np.int64) - np.asarray(want[f], dtype=np.int64)).max())
            for f in FIELDS}


def summary(fixed_point: bool) -> dict[str, dict[str, int]]:
    """scenario -> field -> max |diff| over its epochs (fixed_point: the epochs it covers)."""
    out = {}
    for name, rec in RECORDINGS.items():
        epochs = [e for e in rec["epochs"] if fixed_ok(e) or not fixed_point]
        if epochs:
            out[name] = {f: max(max_diffs(e, fixed_point)[f] for e in epochs) for f in FIELDS}
    return out


def test_recordings_cover_the_spec293_rules():
    assert {"healthy", "yuma3", "liquid_alpha", "penalty0", "penalty1", "commit_reveal", "copier", "reregistered",
            "threshold"} <= set(RECORDINGS), "recordings missing: run scripts/record_spec293.py"
    for rec in RECORDINGS.values():
        assert rec["spec_version"] == 293 and len(rec["epochs"]) >= 3
        assert all(e["inputs"]["owner_uid"] == 0 for e in rec["epochs"])
    flag = lambda name, key: {e["inputs"][key] for e in RECORDINGS[name]["epochs"]}  # noqa: E731
    assert flag("healthy", "yuma3") == {0} and flag("yuma3", "yuma3") == {1} and flag("yuma3", "liquid_alpha") == {0}
    assert flag("liquid_alpha", "yuma3") == {1} and flag("liquid_alpha", "liquid_alpha") == {1}
    assert flag("penalty0", "bonds_penalty") == {0} and flag("penalty1", "bonds_penalty") == {65535}
    last = {name: RECORDINGS[name]["epochs"][-1]["outputs"]["Bonds"] for name in ("penalty0", "penalty1")}
    assert last["penalty0"] != last["penalty1"]
    cr = RECORDINGS["commit_reveal"]["epochs"]          # weights only through reveals, one epoch late
    assert flag("commit_reveal", "commit_reveal_enabled") == {1} and not any(map(any, cr[1]["inputs"]["weights"]))
    assert any(map(any, cr[2]["inputs"]["weights"])) and cr[-1]["outputs"]["Incentive"][3] > 0
    regs = [e["inputs"]["block_at_registration"] for e in RECORDINGS["reregistered"]["epochs"]]
    assert regs[0] != regs[-1], "no uid was re-registered"
    first = RECORDINGS["threshold"]["epochs"][0]
    assert first["inputs"]["stake_threshold"] > first["inputs"]["alpha_stake"][0] > 0  # the owner, below it
    assert first["outputs"]["StakeWeight"][0] == 0 and first["outputs"]["ValidatorPermit"][0] == 0


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_recordings_chain_epoch_to_epoch(name):
    """Bonds and permits an epoch stores are the next epoch's inputs (no extrinsic touches them)."""
    assert chain_breaks(RECORDINGS[name]["epochs"]) == []


@pytest.mark.parametrize("name", sorted(n for n, r in RECORDINGS.items() if any(map(fixed_ok, r["epochs"]))))
def test_fixed_point_reproduces_the_runtime_exactly(name):
    """Every stored field, Emission to the rao, in every epoch without liquid alpha."""
    epochs = [e for e in RECORDINGS[name]["epochs"] if fixed_ok(e)]
    assert over_tolerance(epochs, lambda e: max_diffs(e, fixed_point=True), {}) == []


# MEASURED bounds of the float64 replay (max over every recording), not exactness. ValidatorTrust: the
# runtime's row-normalised weights are floored to 2**-32, so a validator whose clipped weights are
# its whole row stores 65534 where float64 sums to exactly 1 (65535). Emission (rao of alpha, out of
# ~9e9): float64 shares differ from the runtime's I32F32 shares in the last bits. Every other field,
# liquid alpha (float64 only) included, is exact.
FLOAT_TOL = {"ValidatorTrust": 1, "Emission": 15}


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_float64_within_measured_bounds(name):
    assert over_tolerance(RECORDINGS[name]["epochs"], lambda e: max_diffs(e, fixed_point=False), FLOAT_TOL) == []


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_active_follows_the_activity_cutoff(name):
    assert active_mismatches(RECORDINGS[name]["epochs"]) == []


def test_the_owner_exemptions_of_current_are_not_spec293s():
    """variant "current" exempts the owner from the stake threshold and gives it a permit; spec 293
    did neither (threshold recording, first epoch)."""
    epoch = RECORDINGS["threshold"]["epochs"][0]
    inp, params = epoch_params(record_from_raw(epoch, netuid=1), fixed_point=False)
    cur = stored_u16(run_epoch(inp, dataclasses.replace(params, variant="current", quantize_bonds=True)))
    assert cur["StakeWeight"][0] > 0 and cur["ValidatorPermit"][0]
    assert ours(epoch, fixed_point=False)["StakeWeight"][0] == 0 == epoch["outputs"]["StakeWeight"][0]


if __name__ == "__main__":
    short = {"ValidatorTrust": "VTrust", "PruningScores": "Pruning", "ValidatorPermit": "VPermit",
             "StakeWeight": "StakeW"}
    for fixed in (True, False):
        print(f"\nmax |ours - runtime| in u16 units (Emission in rao), variant=spec293 "
              f"{'fixed_point=True' if fixed else 'float64'}")
        print(f"{'scenario':<14}" + "".join(f"{short.get(f, f):>10}" for f in FIELDS))
        for name, row in summary(fixed).items():
            print(f"{name:<14}" + "".join(f"{row[f]:>10}" for f in FIELDS))
