"""Load the public Yuma test vectors (copied from shared/yuma/vectors) and replay them through run_epoch.

Bipartite V x M vectors are embedded in uid space with validators first (uids 0..V-1).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from consensus import EpochInput, EpochResult, YumaParams, run_epoch

VECTOR_DIR = Path(__file__).parent / "vectors"
PARAM_KEYS = ("kappa", "bonds_penalty", "bonds_moving_average", "yuma3", "liquid_alpha", "alpha_low",
              "alpha_high", "alpha_sigmoid_steepness", "max_allowed_validators", "stake_threshold",
              "la_sparse_drop", "quantize_bonds")
VALIDATOR_FIELDS = ("dividends", "validator_trust", "active_stake", "stake_normalized",
                    "new_validator_permit", "validator_share")
MINER_FIELDS = ("consensus", "incentive", "ranks", "server_share")


def vector_paths() -> list[Path]:
    return sorted(VECTOR_DIR.glob("*.json"))


def params_from(hyper: dict) -> YumaParams:
    for flag in ("sim_consensus_normalize", "sim_yuma2_bonds"):
        if hyper.get(flag):
            raise NotImplementedError(f"{flag}: yuma-simulation quirks are not chain behaviour")
    kw = {k: hyper[k] for k in PARAM_KEYS if k in hyper}
    kw["max_allowed_validators"] = int(kw["max_allowed_validators"])
    return YumaParams(**kw)


@dataclass
class Replay:
    name: str
    layout: str
    n_validators: int  # V for bipartite, n for uid space
    results: list[EpochResult]
    expected: list[dict]

    def view(self, res: EpochResult, field: str):
        """The part of a uid-space result that the vector's expected field describes."""
        a = getattr(res, field)
        if self.layout == "uid_space":
            return a
        v = self.n_validators
        if field in ("bonds", "bonds_ema_normalized"):
            return a[:v, v:]
        return a[:v] if field in VALIDATOR_FIELDS else a[v:]


def replay(path: Path) -> Replay:
    vec = json.loads(path.read_text())
    params = params_from(vec["hyperparameters"])
    inputs, static = vec["inputs"], vec["inputs"].get("static", {})
    bipartite = vec["layout"] == "bipartite"
    bonds, permit = inputs.get("initial_bonds"), inputs.get("initial_validator_permit")
    v = len(inputs["epochs"][0]["stake"])
    results = []
    for e in inputs["epochs"]:
        stake, weights = np.asarray(e["stake"], float), np.asarray(e["weights"], float)
        extra = {k: e[k] for k in ("last_update", "block_at_registration", "current_block",
                                   "activity_cutoff", "last_tempo") if k in e}
        if bipartite:
            m = weights.shape[1]
            stake = np.concatenate([stake, np.zeros(m)])
            full = np.zeros((v + m, v + m))
            full[:v, v:] = weights
            weights = full
            if bonds is not None and not isinstance(bonds, np.ndarray):
                full_b = np.zeros((v + m, v + m))
                full_b[:v, v:] = bonds
                bonds = full_b
            if permit is not None and len(permit) == v:
                permit = np.concatenate([permit, np.zeros(m, bool)])
        res = run_epoch(EpochInput(stake=stake, weights=weights, bonds=bonds, validator_permit=permit,
                                   owner_uid=static.get("owner_uid"), **extra), params)
        results.append(res)
        bonds, permit = res.bonds, res.new_validator_permit
    return Replay(vec["name"], vec["layout"], v, results, vec["expected"])
