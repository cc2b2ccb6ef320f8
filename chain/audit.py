"""Epoch audit: recompute a subnet's epoch with `consensus.run_epoch` and compare it with every field
the chain stored, on any backend.

The epoch of block B runs in B's on_initialize, before B's extrinsics, so its inputs are the
storage at B-1 (weights, stake, bonds, permits, last_update, block_at_registration, hyperparameters,
the pending emission) and its outputs are the storage at B. Each backend hands both over as an
`EpochRecord` (`Chain.epoch_record`): the subtensor backend reads historical state, the dev ledger
keeps its latest epoch. The record names the rules (`consensus` variant) its chain runs. For the
spec-148 and spec-293 rules the recomputation uses the runtime's own I32F32 arithmetic
(`fixed_point=True`; liquid alpha has no fixed-point path and is recomputed in float64), so the
goal is exact equality of every stored value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chain.types import Hyperparameters

#: what an epoch stores, in storage names (each runtime a subset); u16 except ValidatorPermit/Active
#: (bool), Emission (rao) and Bonds ((n, n) u16)
STORED = ("StakeWeight", "Consensus", "Incentive", "Dividends", "ValidatorTrust", "Rank", "Trust", "PruningScores",
          "ValidatorPermit", "Active", "Emission", "Bonds")
#: AlphaValues (u16 low, high) a subnet starts with
DEFAULT_ALPHA_VALUES = (45875, 58982)


@dataclass
class EpochRecord:
    """One epoch as the chain ran it: its inputs (storage at block-1) and stored outputs (at block)."""
    netuid: int
    block: int
    hotkeys: list[str]                 # (n,)
    stake: np.ndarray                  # (n,) int64 rao the epoch weighs (dTAO: alpha + TaoWeight x root stake)
    weights: np.ndarray                # (n, n) raw u16
    bonds: np.ndarray                  # (n, n) raw u16
    validator_permit: np.ndarray       # (n,) bool, the permits the epoch read
    last_update: np.ndarray            # (n,) int64 block
    block_at_registration: np.ndarray  # (n,) int64 block
    hyperparameters: Hyperparameters
    rao_emission: int                  # pending emission the epoch drained
    stored: dict[str, np.ndarray]      # STORED name -> what the chain stored at `block`
    variant: str = "spec148"           # the consensus rules the chain ran (consensus.params.VARIANTS)
    owner_uid: int | None = None       # the subnet owner's hotkey's uid, if registered
    alpha_values: tuple[int, int] = DEFAULT_ALPHA_VALUES  # liquid alpha's (low, high), u16


@dataclass
class AuditReport:
    netuid: int
    epoch_block: int
    hotkeys: list[str]
    chain: dict[str, np.ndarray]   # STORED name -> the chain's values
    ours: dict[str, np.ndarray]

    def diff(self, name: str) -> int:
        """Largest |chain - ours| in the field's stored units (u16, rao for Emission; 1 = a bool differs)."""
        a, b = self.chain[name].astype(np.int64), self.ours[name].astype(np.int64)
        return int(np.abs(a - b).max()) if a.size else 0

    @property
    def diffs(self) -> dict[str, int]:
        return {name: self.diff(name) for name in self.chain}

    @property
    def max_diff(self) -> int:
        return max(self.diffs.values(), default=0)

    def table(self) -> str:
        n = len(self.hotkeys)
        cols = [k for k in ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "Emission") if k in self.chain]
        head = f"{'uid':>4} {'hotkey':<10} " + " ".join(f"{c[:13]:>23}" for c in cols) + f" {'bonds row':>9}"
        lines = [f"epoch of block {self.epoch_block} on subnet {self.netuid}: chain/ours "
                 "(u16 units; Emission in rao)", head]
        bond_rows = np.abs(self.chain["Bonds"].astype(np.int64) - self.ours["Bonds"].astype(np.int64))
        for uid in range(n):
            cells = [f"{int(self.chain[k][uid]):>11}/{int(self.ours[k][uid]):<11}" for k in cols]
            lines.append(f"{uid:>4} {self.hotkeys[uid][:8]:<10} {' '.join(cells)} {int(bond_rows[uid].max()) if n else 0:>9}")
        lines.append("largest difference: " + ", ".join(f"{name} {d}" for name, d in self.diffs.items()))
        lines.append(f"AGREES exactly on {len(self.chain)} stored fields" if self.max_diff == 0
                     else f"DIFFERS by up to {self.max_diff} in " + ", ".join(k for k, d in self.diffs.items() if d))
        return "\n".join(lines)


def epoch_params(rec: EpochRecord, *, fixed_point: bool = True) -> tuple:
    """(EpochInput, YumaParams) of the record: its rules, in the runtime's fixed point where we have it."""
    from consensus import EpochInput, YumaParams

    hp, variant = rec.hyperparameters, rec.variant
    legacy = variant == "spec148"               # no Yuma3, liquid alpha, bonds penalty, threshold or owner
    liquid = hp.liquid_alpha and not legacy
    fixed = fixed_point and variant in ("spec148", "spec293") and not liquid
    yuma3 = hp.yuma3 and not legacy
    bonds = np.asarray(rec.bonds, dtype=np.float64)
    inputs = EpochInput(
        stake=np.asarray(rec.stake, dtype=np.float64), weights=rec.weights,
        bonds=bonds / 65535 if yuma3 and not fixed else bonds,   # Yuma3 in float: bonds as proportions
        validator_permit=rec.validator_permit, last_update=rec.last_update,
        block_at_registration=rec.block_at_registration, current_block=rec.block, activity_cutoff=hp.activity_cutoff,
        last_tempo=None if legacy else rec.block - hp.tempo, owner_uid=None if legacy else rec.owner_uid)
    params = YumaParams(
        variant=variant, fixed_point=fixed, kappa=hp.kappa / 65535, bonds_moving_average=float(hp.bonds_moving_average),
        max_allowed_validators=hp.max_allowed_validators, quantize_bonds=not fixed and not legacy,
        **({} if legacy else dict(
            bonds_penalty=hp.bonds_penalty / 65535, yuma3=yuma3, liquid_alpha=liquid,
            alpha_low=rec.alpha_values[0] / 65535, alpha_high=rec.alpha_values[1] / 65535,
            alpha_sigmoid_steepness=float(hp.alpha_sigmoid_steepness), stake_threshold=float(hp.min_allowed_stake))))
    return inputs, params


def recompute(rec: EpochRecord, *, fixed_point: bool = True) -> dict[str, np.ndarray]:
    """Every STORED field as our epoch, under the record's rules, computes it from the record's inputs."""
    from consensus import emission_amounts, run_epoch, stored_u16
    from consensus.stake import inactive_mask

    res = run_epoch(*epoch_params(rec, fixed_point=fixed_point))
    ours = {k: np.asarray(v) for k, v in stored_u16(res).items()}
    n = len(rec.hotkeys)
    ours["Active"] = ~inactive_mask(n, np.asarray(rec.last_update), rec.block, rec.hyperparameters.activity_cutoff)
    ours["Emission"] = emission_amounts(res.combined_share, int(rec.rao_emission)).astype(np.int64)
    return ours


def audit_epoch(chain, netuid: int, epoch_block: int | None = None, *, fixed_point: bool = True) -> AuditReport:
    """Recompute the epoch of `epoch_block` (default: the latest) and compare every stored field."""
    rec = chain.epoch_record(netuid, epoch_block)
    ours = recompute(rec, fixed_point=fixed_point)
    n = len(rec.hotkeys)
    names = [k for k in STORED if k in rec.stored]
    theirs = {k: np.asarray(rec.stored[k])[:n, :n] if k == "Bonds" else np.asarray(rec.stored[k])[:n] for k in names}
    return AuditReport(netuid=netuid, epoch_block=rec.block, hotkeys=rec.hotkeys, chain=theirs,
                       ours={k: ours[k] for k in names})


def last_epoch_block(chain, netuid: int) -> int:
    """Block whose on_initialize ran the subnet's most recent epoch."""
    return chain.epoch_record(netuid).block
