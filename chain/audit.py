"""Epoch audit: recompute a subnet's epoch with `consensus.run_epoch` and compare it with every field
the chain stored, on any backend.

The epoch of block B runs in B's on_initialize, before B's extrinsics, so its inputs are the
storage at B-1 (weights, stake, bonds, permits, last_update, block_at_registration, hyperparameters,
the pending emission) and its outputs are the storage at B. Each backend hands both over as an
`EpochRecord` (`Chain.epoch_record`): the subtensor backend reads historical state, the dev ledger
keeps its latest epoch. For the spec-148 rules the recomputation uses the runtime's own I32F32
arithmetic (`fixed_point=True`), so the goal is exact equality of every stored value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chain.errors import UnsupportedError
from chain.types import Hyperparameters

#: what the spec-148 epoch stores, in storage names; u16 except ValidatorPermit/Active (bool),
#: Emission (rao) and Bonds ((n, n) u16)
STORED = ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "Rank", "Trust", "PruningScores",
          "ValidatorPermit", "Active", "Emission", "Bonds")


@dataclass
class EpochRecord:
    """One epoch as the chain ran it: its inputs (storage at block-1) and stored outputs (at block)."""
    netuid: int
    block: int
    hotkeys: list[str]                 # (n,)
    stake: np.ndarray                  # (n,) int64 rao
    weights: np.ndarray                # (n, n) raw u16
    bonds: np.ndarray                  # (n, n) raw u16
    validator_permit: np.ndarray       # (n,) bool, the permits the epoch read
    last_update: np.ndarray            # (n,) int64 block
    block_at_registration: np.ndarray  # (n,) int64 block
    hyperparameters: Hyperparameters
    rao_emission: int                  # pending emission the epoch drained
    stored: dict[str, np.ndarray]      # STORED name -> what the chain stored at `block`


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


def recompute(rec: EpochRecord, *, fixed_point: bool = True) -> dict[str, np.ndarray]:
    """Every STORED field as our spec-148 epoch computes it from the record's inputs."""
    from consensus import EpochInput, YumaParams, emission_amounts, run_epoch, stored_u16
    from consensus.stake import inactive_mask

    hp = rec.hyperparameters
    inputs = EpochInput(
        stake=np.asarray(rec.stake, dtype=np.float64), weights=rec.weights, bonds=rec.bonds,
        validator_permit=rec.validator_permit, last_update=rec.last_update,
        block_at_registration=rec.block_at_registration, current_block=rec.block, activity_cutoff=hp.activity_cutoff)
    params = YumaParams(variant="spec148", fixed_point=fixed_point, kappa=hp.kappa / 65535,
                        bonds_moving_average=float(hp.bonds_moving_average),
                        max_allowed_validators=hp.max_allowed_validators)
    res = run_epoch(inputs, params)
    ours = {k: np.asarray(v) for k, v in stored_u16(res).items()}
    n = len(rec.hotkeys)
    ours["Active"] = ~inactive_mask(n, np.asarray(rec.last_update), rec.block, hp.activity_cutoff)
    ours["Emission"] = emission_amounts(res.combined_share, int(rec.rao_emission)).astype(np.int64)
    return ours


def audit_epoch(chain, netuid: int, epoch_block: int | None = None, *, fixed_point: bool = True) -> AuditReport:
    """Recompute the epoch of `epoch_block` (default: the latest) and compare every stored field."""
    if chain.yuma_variant != "spec148":
        raise UnsupportedError(f"the audit reproduces the spec-148 epoch; this runtime's epoch is {chain.yuma_variant!r}",
                               hint="audit a pre-dTAO runtime (the local runtime, `--chain local`) or the dev ledger (dev:PATH)")
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
