"""Run a Scenario for several epochs through run_epoch, feeding bonds and permits forward."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .epoch import run_epoch
from .inputs import EpochInput
from .scenario import Scenario

CSV_FIELDS = ("version", "epoch", "role", "name", "stake", "consensus", "incentive", "dividends",
              "validator_trust", "emission_share")


@dataclass
class SimRun:
    """One version's trajectory. Arrays are [epochs, n] over uids: validators first, then miners."""

    version: str
    names: list[str]
    n_validators: int
    stake: np.ndarray
    consensus: np.ndarray
    incentive: np.ndarray
    dividends: np.ndarray
    validator_trust: np.ndarray
    emission_share: np.ndarray


def _validator_state(sc: Scenario, epoch: int):
    """Weights (dict per validator), stake and copy flags in force at `epoch`."""
    state = {v.name: {"weights": dict(v.weights), "stake": v.stake, "copy": v.copy} for v in sc.validators}
    for c in sc.changes:
        if c.epoch > epoch:
            break
        for name in c.validators:
            if c.weights is not None:
                state[name]["weights"] = dict(c.weights)
            if c.stake is not None:
                state[name]["stake"] = c.stake
            if c.copy is not None:
                state[name]["copy"] = c.copy
    return state


def simulate(sc: Scenario, version: str, epochs: int | None = None) -> SimRun:
    epochs = epochs or sc.epochs
    params = sc.yuma_params(version)
    v, m = len(sc.validators), len(sc.miners)
    n = v + m
    col = {mi.name: v + j for j, mi in enumerate(sc.miners)}
    joins = np.array([mi.joins for mi in sc.miners])
    rec = {k: np.zeros((epochs, n)) for k in ("stake", "consensus", "incentive", "dividends",
                                                "validator_trust", "emission_share")}
    bonds = permit = None
    prev_consensus = np.zeros(n)
    for e in range(epochs):
        state = _validator_state(sc, e)
        stake = np.zeros(n)
        weights = np.zeros((n, n))  # rows: validators' weights on miner columns
        for i, val in enumerate(sc.validators):
            st = state[val.name]
            stake[i] = st["stake"]
            if st["copy"]:
                weights[i, v:] = prev_consensus[v:]
            else:
                for miner, w in st["weights"].items():
                    weights[i, col[miner]] = w
        weights[:, v:][:, joins > e] = 0.0  # miners not registered yet
        res = run_epoch(EpochInput(stake=stake, weights=weights, bonds=bonds, validator_permit=permit), params)
        bonds, permit, prev_consensus = res.bonds, res.new_validator_permit, res.consensus
        rec["stake"][e] = res.stake_normalized
        rec["consensus"][e] = res.consensus
        rec["incentive"][e] = res.incentive
        rec["dividends"][e] = res.dividends
        rec["validator_trust"][e] = res.validator_trust
        rec["emission_share"][e] = res.combined_share
    names = [x.name for x in sc.validators] + [x.name for x in sc.miners]
    return SimRun(version=version, names=names, n_validators=v, **rec)


def write_csv(runs: list[SimRun], path: Path) -> None:
    """Long format: one row per (version, epoch, uid)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
        for r in runs:
            for e in range(r.stake.shape[0]):
                for u, name in enumerate(r.names):
                    role = "validator" if u < r.n_validators else "miner"
                    w.writerow([r.version, e, role, name] + [f"{getattr(r, k)[e, u]:.9g}" for k in CSV_FIELDS[4:]])


def summary(runs: list[SimRun]) -> str:
    """Mean over epochs: validators' dividends per unit of stake, miners' incentive."""
    head = f"{'':<22}" + "".join(f"{r.version:>14}" for r in runs)
    lines = [head, "validators: mean dividends / stake share (1.0 = paid in proportion to stake)"]
    r0 = runs[0]
    for u in range(r0.n_validators):
        vals = []
        for r in runs:
            s = r.stake[:, u].mean()
            vals.append(r.dividends[:, u].mean() / s if s > 0 else float("nan"))
        lines.append(f"  {r0.names[u]:<20}" + "".join(f"{x:>14.3f}" for x in vals))
    lines.append("miners: mean incentive")
    for u in range(r0.n_validators, len(r0.names)):
        lines.append(f"  {r0.names[u]:<20}" + "".join(f"{r.incentive[:, u].mean():>14.3f}" for r in runs))
    return "\n".join(lines)
