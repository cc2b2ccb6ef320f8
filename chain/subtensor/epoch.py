"""An epoch's inputs and stored outputs read back from a subtensor node's historical state (for the
audit): storage at B-1 and at B, where B is the block whose on_initialize ran the epoch.

Only for pre-dTAO runtimes (spec 148): the drained emission is PendingEmission at B-1 plus block B's
own accrual, which generate_emission adds before it drains (EmissionValues less the owner's cut).
"""
from __future__ import annotations

import numpy as np

from chain.audit import EpochRecord
from chain.dev.blocks import owner_cut
from chain.errors import ChainError
from chain.types import U16_MAX


def last_epoch_block(chain, netuid: int) -> int:
    block = chain.query("LastMechansimStepBlock", [netuid])
    if not block:
        raise ChainError(f"no epoch has run on subnet {netuid} yet",
                         hint="wait one tempo (on the local chain: advance blocks) and audit again")
    return int(block)


def _u16(ratio: np.ndarray) -> np.ndarray:
    """Metagraph ratios (stored u16 / 65535) back to the exact stored u16."""
    return np.rint(np.asarray(ratio) * U16_MAX).astype(np.int64)


def epoch_record(chain, netuid: int, block: int | None = None) -> EpochRecord:
    b = block if block is not None else last_epoch_block(chain, netuid)
    before, after = chain.metagraph(netuid, block=b - 1), chain.metagraph(netuid, block=b)
    hp = chain.hyperparameters(netuid, block=b - 1)
    n = before.n
    pending = int(chain.query("PendingEmission", [netuid], block=b - 1) or 0)
    value = int(chain.query("EmissionValues", [netuid], block=b) or 0)
    cut = chain.query("SubnetOwnerCut", [], block=b)
    accrual = value - (owner_cut(value, int(cut)) if cut is not None else 0)
    stored = {"Consensus": after.consensus, "Incentive": after.incentive, "Dividends": after.dividends,
              "ValidatorTrust": after.validator_trust, "Rank": after.extra["rank"], "Trust": after.extra["trust"]}
    out = {k: _u16(v)[:n] for k, v in stored.items()}
    out["PruningScores"] = np.asarray(after.extra["pruning_scores"])[:n]
    out["ValidatorPermit"] = after.validator_permit[:n]
    out["Active"] = np.asarray(after.extra["active"])[:n]
    out["Emission"] = np.asarray(after.extra["emission_rao"])[:n]
    out["Bonds"] = after.bonds[:n, :n].astype(np.int64)
    return EpochRecord(
        netuid=netuid, block=b, hotkeys=before.hotkeys, stake=before.extra["stake_rao"], weights=before.weights,
        bonds=before.bonds, validator_permit=before.validator_permit, last_update=before.last_update,
        block_at_registration=before.block_at_registration, hyperparameters=hp, rao_emission=pending + accrual,
        stored=out)
