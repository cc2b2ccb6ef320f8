"""Epoch audit: recompute a subnet's last Yuma epoch with `consensus.run_epoch` and compare it with
what the chain stored.

The epoch of block B runs in B's on_initialize, before B's extrinsics, so its inputs are the
storage at B-1 (weights, stake, bonds, permits, last_update, block_at_registration, hyperparameters)
and its outputs are the storage at B. For the spec-148 runtime the recomputation uses the runtime's
own I32F32 arithmetic (`fixed_point=True`), so the goal is exact u16 equality.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chain.errors import ChainError, UnsupportedError
from chain.types import U16_MAX


@dataclass
class AuditReport:
    netuid: int
    epoch_block: int
    hotkeys: list[str]
    chain: dict[str, np.ndarray]   # name -> (n,) u16, "Bonds" -> (n, n) u16, "ValidatorPermit" -> (n,) bool
    ours: dict[str, np.ndarray]

    def diff(self, name: str) -> int:
        """Largest |chain - ours| in u16 units (permits: number of uids that differ)."""
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
        head = (f"{'uid':>4} {'hotkey':<10} {'consensus':>13} {'incentive':>13} {'dividends':>13} "
                f"{'vtrust':>13} {'bonds row':>9}")
        lines = [f"epoch of block {self.epoch_block} on subnet {self.netuid}: chain/ours in u16 units", head]
        bond_rows = np.abs(self.chain["Bonds"].astype(np.int64) - self.ours["Bonds"].astype(np.int64))
        for uid in range(n):
            cells = [f"{int(self.chain[k][uid]):>6}/{int(self.ours[k][uid]):<6}"
                     for k in ("Consensus", "Incentive", "Dividends", "ValidatorTrust")]
            lines.append(f"{uid:>4} {self.hotkeys[uid][:8]:<10} {' '.join(cells)} {int(bond_rows[uid].max()) if n else 0:>9}")
        lines.append("largest difference (u16 units): "
                     + ", ".join(f"{name} {d}" for name, d in self.diffs.items()))
        lines.append("AGREES exactly" if self.max_diff == 0 else f"DIFFERS by up to {self.max_diff} u16 units")
        return "\n".join(lines)


def last_epoch_block(chain, netuid: int) -> int:
    """Block whose on_initialize ran the subnet's most recent epoch."""
    block = chain.query("LastMechansimStepBlock", [netuid])
    if not block:
        raise ChainError(f"no epoch has run on subnet {netuid} yet",
                         hint="wait one tempo (on the local chain: advance blocks) and audit again")
    return int(block)


def _u16(ratio: np.ndarray) -> np.ndarray:
    """Metagraph ratios (stored u16 / 65535) back to the exact stored u16."""
    return np.rint(np.asarray(ratio) * U16_MAX).astype(np.int64)


def audit_epoch(chain, netuid: int, epoch_block: int | None = None, *, fixed_point: bool = True) -> AuditReport:
    """Recompute the epoch of `epoch_block` (default: the latest) on a subtensor chain."""
    from consensus import EpochInput, YumaParams, run_epoch, stored_u16

    if chain.yuma_variant != "spec148":
        raise UnsupportedError(f"the audit reproduces the spec-148 epoch; this runtime's epoch is {chain.yuma_variant!r}",
                               hint="audit a pre-dTAO runtime (e.g. the local chain, `--chain local`)")
    b = epoch_block if epoch_block is not None else last_epoch_block(chain, netuid)
    before, after = chain.metagraph(netuid, block=b - 1), chain.metagraph(netuid, block=b)
    hp = chain.hyperparameters(netuid, block=b - 1)
    n = before.n
    inputs = EpochInput(
        stake=before.extra["stake_rao"], weights=before.weights, bonds=before.bonds,
        validator_permit=before.validator_permit, last_update=before.last_update,
        block_at_registration=before.block_at_registration, current_block=b, activity_cutoff=hp.activity_cutoff)
    params = YumaParams(variant="spec148", fixed_point=fixed_point, kappa=hp.kappa / U16_MAX,
                        bonds_moving_average=float(hp.bonds_moving_average),
                        max_allowed_validators=hp.max_allowed_validators)
    ours = stored_u16(run_epoch(inputs, params))

    stored = {"Consensus": after.consensus, "Incentive": after.incentive, "Dividends": after.dividends,
              "ValidatorTrust": after.validator_trust, "Rank": after.extra["rank"], "Trust": after.extra["trust"]}
    chain_u16 = {k: _u16(v)[:n] for k, v in stored.items()}
    chain_u16["PruningScores"] = after.extra["pruning_scores"][:n]
    chain_u16["ValidatorPermit"] = after.validator_permit[:n]
    chain_u16["Bonds"] = after.bonds[:n, :n].astype(np.int64)
    return AuditReport(netuid=netuid, epoch_block=b, hotkeys=before.hotkeys, chain=chain_u16,
                       ours={k: np.asarray(ours[k]) for k in chain_u16})
