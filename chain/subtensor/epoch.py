"""An epoch's inputs and stored outputs read back from a subtensor node's historical state (for the
audit): storage at B-1 and at B, where B is the block whose on_initialize ran the epoch.

Pre-dTAO runtimes (spec 148): the drained emission is PendingEmission at B-1 plus block B's own
accrual, which generate_emission adds before it drains (EmissionValues less the owner's cut).

dTAO runtimes (spec 293, pallets/subtensor/src/epoch/run_epoch.rs): the stake the epoch weighs is
the alpha on the subnet plus the root (TAO) stake times TaoWeight (x / u64::MAX), floored to rao here;
the owner's uid, the global StakeThreshold and the Yuma3/liquid-alpha/bonds-penalty hyperparameters
are inputs too. The amount split is PendingEmission + PendingAlphaSwapped after block B's coinbase,
which no storage shows: the coinbase adds the same amount every block, so block B adds 1/tempo of
what is pending at B-1 (the recorded epochs reproduce every stored Emission with it).
`read_raw` gives the raw integers (scripts/record_spec293.py stores them as recordings);
`record_from_raw` turns them into an EpochRecord.
"""
from __future__ import annotations

import numpy as np

from chain.audit import DEFAULT_ALPHA_VALUES, EpochRecord
from chain.dev.blocks import owner_cut
from chain.errors import ChainError
from chain.types import U16_MAX, Hyperparameters


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
    if chain.yuma_variant != "spec148":
        pre = chain.metagraph(netuid, block=b - 1)
        return record_from_raw(read_raw(chain, netuid, b, pre), netuid, pre.hotkeys, variant=chain.yuma_variant)
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


#: per-uid vectors a dTAO epoch stores (storage names)
VECTORS = ("StakeWeight", "Active", "Emission", "Rank", "Trust", "Consensus", "Incentive", "Dividends",
           "PruningScores", "ValidatorTrust", "ValidatorPermit")
#: raw input name -> per-subnet storage item (the epoch's hyperparameters)
HYPER = {"kappa": "Kappa", "bonds_penalty": "BondsPenalty", "bonds_moving_average": "BondsMovingAverage",
         "yuma3": "Yuma3On", "liquid_alpha": "LiquidAlphaOn", "alpha_sigmoid_steepness": "AlphaSigmoidSteepness",
         "max_allowed_validators": "MaxAllowedValidators", "activity_cutoff": "ActivityCutoff", "tempo": "Tempo",
         "bonds_reset": "BondsResetOn", "commit_reveal_enabled": "CommitRevealWeightsEnabled"}
_FLAGS = ("yuma3", "liquid_alpha", "commit_reveal_enabled")
U64_MAX = 2**64 - 1


def _ints(a) -> list[int]:
    return [int(v or 0) for v in a]


def _rows(m, n: int) -> list[list[int]]:
    return [[int(v) for v in m[i, :n]] for i in range(n)]


def read_raw(chain, netuid: int, b: int, pre=None) -> dict:
    """dTAO: the epoch of block b's inputs (storage at b-1) and stored outputs (at b) as raw integers."""
    pre = pre if pre is not None else chain.metagraph(netuid, block=b - 1)
    n = pre.n
    q = lambda item, params=None, at=b - 1: chain.query(item, params or [], block=at)  # noqa: E731
    if int(q("SubnetworkN", [netuid], b) or 0) != n:
        raise ChainError(f"subnet {netuid} changed size inside epoch block {b}",
                         hint="audit another epoch (--block) or the next one")
    owner_hot = q("SubnetOwnerHotkey", [netuid])
    owner_uid = chain.query("Uids", [netuid, owner_hot], block=b - 1) if owner_hot else None
    alpha_low, alpha_high = q("AlphaValues", [netuid]) or DEFAULT_ALPHA_VALUES
    inputs = {
        "n": n, "current_block": b, "owner_uid": owner_uid,
        "alpha_stake": _ints(pre.extra["stake_rao"]),
        "tao_stake": [int(q("TotalHotkeyAlpha", [hk, 0]) or 0) for hk in pre.hotkeys],
        "tao_weight": int(q("TaoWeight") or 0), "stake_threshold": int(q("StakeThreshold") or 0),
        "weights": _rows(pre.weights, n), "bonds": _rows(pre.bonds, n),
        "validator_permit": _ints(pre.validator_permit), "last_update": _ints(pre.last_update),
        "block_at_registration": _ints(pre.block_at_registration),
        **{k: int(q(item, [netuid]) or 0) for k, item in HYPER.items()},
        "alpha_low": int(alpha_low), "alpha_high": int(alpha_high),
        "pending_emission": int(q("PendingEmission", [netuid]) or 0),
        "pending_alpha_swapped": int(q("PendingAlphaSwapped", [netuid]) or 0),
    }
    outputs = {k: _ints(q(k, [netuid], b) or [])[:n] for k in VECTORS}
    outputs["Bonds"] = _rows(chain.metagraph(netuid, block=b).bonds, n)
    return {"block": b, "inputs": inputs, "outputs": outputs}


def record_from_raw(raw: dict, netuid: int, hotkeys: list[str] | None = None, *, variant: str = "spec293") -> EpochRecord:
    """A `read_raw` result (or a recording) as the EpochRecord the audit recomputes."""
    i, out = raw["inputs"], raw["outputs"]
    n = i["n"]
    stake = np.array(i["alpha_stake"], dtype=np.float64) + i["tao_weight"] / U64_MAX * np.array(i["tao_stake"], dtype=np.float64)
    hp = Hyperparameters(min_allowed_stake=i["stake_threshold"],
                         **{k: (bool(i[k]) if k in _FLAGS else int(i[k]))
                            for k in HYPER if k != "bonds_reset" and k in i})
    pending = i["pending_emission"] + i["pending_alpha_swapped"]
    stored = {k: np.asarray(out[k], dtype=bool if k in ("Active", "ValidatorPermit") else np.int64)
              for k in VECTORS if k in out}
    stored["Bonds"] = np.asarray(out["Bonds"], dtype=np.int64).reshape(n, n)
    return EpochRecord(
        netuid=netuid, block=raw["block"], hotkeys=hotkeys or [f"uid{u}" for u in range(n)],
        stake=np.floor(stake).astype(np.int64), weights=np.asarray(i["weights"], dtype=np.float64).reshape(n, n),
        bonds=np.asarray(i["bonds"], dtype=np.float64).reshape(n, n),
        validator_permit=np.asarray(i["validator_permit"], dtype=bool),
        last_update=np.asarray(i["last_update"], dtype=np.int64),
        block_at_registration=np.asarray(i["block_at_registration"], dtype=np.int64),
        hyperparameters=hp, rao_emission=pending + pending // max(i["tempo"], 1), stored=stored,
        variant=variant, owner_uid=i["owner_uid"], alpha_values=(i["alpha_low"], i["alpha_high"]))
