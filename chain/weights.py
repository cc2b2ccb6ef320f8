"""Weight processing: float scores → the u16 vectors the chain accepts, and why a submission would fail.

Pure functions, shared by every backend and by validators:
- `normalize_max_weight(x, limit)`  shares summing to 1 with no share above `limit` (water-filling)
- `scores_to_u16(scores, ...)`      (uids, u16 values) max-upscaled to 65535, zeros dropped,
                                     honouring min_allowed_weights and max_weight_limit
- `max_weight_ok(values, limit)`    the runtime's own MaxWeightExceeded test, in exact integers
- `RULES` / `weights_violation(call, hp)`  the one table of rules a set_weights / commit / reveal must
                                     pass, in the runtime's order (the dev ledger enforces it too)
- `explain_weights_rejection(...)`  one line saying why the chain would reject a submission, or None
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from chain.types import RAO_PER_TAO, U16_MAX, Hyperparameters, Metagraph

# share given to zero-score uids when min_allowed_weights forces more non-zero weights
_FILL_SHARE = 1e-5


def normalize_max_weight(x: np.ndarray, limit: float) -> np.ndarray:
    """Normalise `x` (>= 0) to sum 1 with every share <= limit: clip the largest shares to `limit`
    and spread the rest over the others in proportion, repeating until no share is over.

    If the non-zero entries alone cannot satisfy the limit (nnz * limit < 1), the remainder is spread
    evenly over the zero entries; if even all entries cannot (n * limit <= 1) the result is uniform.
    """
    x = np.asarray(x, dtype=np.float64)  # x: [n]
    n = x.shape[0]
    if n == 0:
        return x.copy()
    top = x.max()
    if not top > 0 or n * limit <= 1.0:  # all zero (x >= 0), or the limit cannot bind
        return np.full(n, 1.0 / n)
    x = x / top  # before any sum: huge scores cannot overflow
    capped = np.zeros(n, dtype=bool)
    while True:
        free = ~capped
        rest = 1.0 - capped.sum() * limit
        free_sum = x[free].sum()
        if free_sum <= 0:  # only zeros left uncapped: share the remainder evenly among them
            out = np.where(capped, limit, rest / max(free.sum(), 1))
            return out
        out = np.full(n, limit)
        out[free] = x[free] / free_sum * rest  # the capped ones are not divided: a tiny free_sum cannot overflow them
        over = free & (out > limit)
        if not over.any():
            return out
        capped |= over


def max_upscale_u16(shares: np.ndarray) -> np.ndarray:
    """Scale so the max is 65535. Non-max entries round *up*, so a non-zero share never becomes 0
    and the max share after rounding never grows (which would trip MaxWeightExceeded)."""
    shares = np.asarray(shares, dtype=np.float64)
    m = shares.max(initial=0.0)
    if m <= 0:
        return np.zeros(shares.shape, dtype=np.int64)
    scaled = np.ceil(shares / m * U16_MAX)
    return np.clip(scaled, 0, U16_MAX).astype(np.int64)


def max_weight_ok(values: Sequence[int], max_weight_limit: int) -> bool:
    """The runtime's max-weight test on u16 values: max / sum <= max_weight_limit / 65535."""
    if max_weight_limit >= U16_MAX or len(values) == 0:
        return True
    total = int(sum(int(v) for v in values))
    if total == 0:
        return True
    return max(int(v) for v in values) * U16_MAX <= max_weight_limit * total


def scores_to_u16(scores: Sequence[float] | np.ndarray, uids: Sequence[int] | None = None, *,
                  min_allowed_weights: int = 0, max_weight_limit: int = U16_MAX) -> tuple[list[int], list[int]]:
    """Float scores (one per uid; NaN and negatives count as 0) → (uids, u16 values) for set_weights.

    The result has at least min(min_allowed_weights, len(scores)) entries, every share <= the limit
    (strictly under it after u16 rounding, checked with `max_weight_ok`), max value 65535, no zeros.
    All-zero scores give no weights at all unless min_allowed_weights asks for some (then uniform).
    """
    x = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)  # x: [n]
    x = np.clip(x, 0.0, None)
    if (top := x.max(initial=0.0)) > 0:
        x = x / top  # scale to max 1: subnormal or huge scores neither underflow nor overflow below
    x[x < 1e-12] = 0.0  # negligible scores would vanish in u16: count them as 0
    ids = np.arange(len(x)) if uids is None else np.asarray(uids, dtype=np.int64)
    if ids.shape != x.shape:
        raise ValueError(f"{len(ids)} uids for {len(x)} scores")
    if len(ids) != len(set(ids.tolist())):
        raise ValueError("duplicate uids in the scores")
    n = len(x)
    need = min(int(min_allowed_weights), n)
    nnz = int((x > 0).sum())
    if nnz == 0 and need == 0:
        return [], []
    if nnz < need:  # give a tiny share to enough zero-score uids (lowest uid first) to meet the minimum
        fill = [i for i in np.argsort(ids, kind="stable") if x[i] <= 0][: need - nnz]
        x[fill] = _FILL_SHARE  # of the top score, which is 1 (or of nothing: then uniform)
    if max_weight_limit < U16_MAX:
        # aim one u16 step under the limit so rounding cannot push the max share over it
        limit = max(max_weight_limit - 1, 1) / U16_MAX
        shares = normalize_max_weight(x, limit)
    else:
        shares = x / x.sum()
    values = max_upscale_u16(shares)
    keep = values > 0
    return ids[keep].tolist(), values[keep].tolist()


# --- the rules a weights submission must pass (one table: the pre-check and the dev ledger use it) ---
@dataclass(frozen=True)
class WeightsCall:
    """One set_weights / commit / reveal as the runtime sees it when it lands in `block`.
    `uid` None: the hotkey is not registered; `n`: the subnet's number of uids."""
    kind: str                    # "set" | "commit" | "reveal"
    netuid: int
    n: int
    uid: int | None
    stake: int                   # rao (alpha on dTAO runtimes) the hotkey holds
    permit: bool
    last_update: int             # block of the uid's last accepted weights (0: never)
    block: int
    uids: tuple[int, ...] = ()
    values: tuple[int, ...] = ()
    version_key: int = 0

    @property
    def self_weight(self) -> bool:
        return len(self.uids) == 1 and self.uid is not None and int(self.uids[0]) == self.uid


@dataclass(frozen=True)
class Violation:
    error: str       # the runtime's error name (chain.errors.error_from_name turns it into a typed error)
    message: str     # one line for the operator


def _rate_left(c: WeightsCall, hp: Hyperparameters) -> int:
    """Blocks still to wait under the weights rate limit (0: free). LastUpdate 0 means never set."""
    if c.last_update == 0 or c.uid is None:
        return 0
    return max(hp.weights_rate_limit - (c.block - c.last_update), 0)


def _too_fast(c: WeightsCall, hp: Hyperparameters) -> str | None:
    left = _rate_left(c, hp)
    if not left:
        return None
    what = "committed" if c.kind == "commit" else "set"
    return (f"too soon: uid {c.uid} {what} weights at block {c.last_update}, the rate limit is "
            f"{hp.weights_rate_limit} blocks; wait {left} more block{'s' if left != 1 else ''}")


def _max_weight(c: WeightsCall, hp: Hyperparameters) -> str | None:
    if c.self_weight or not any(int(v) for v in c.values):
        return None
    top = max(int(v) for v in c.values)
    upscaled = [int(v) * U16_MAX // top for v in c.values]   # vec_u16_max_upscale_to_u16, as stored
    if max_weight_ok(upscaled, hp.max_weight_limit):
        return None
    share = top / sum(int(v) for v in c.values)
    return (f"one weight is {share:.1%} of the total, over max_weight_limit "
            f"{hp.max_weight_limit / U16_MAX:.1%}: spread the weights (use scores_to_u16)")


_SET, _COMMIT, _REVEAL = frozenset({"set"}), frozenset({"commit"}), frozenset({"reveal"})
_APPLY = frozenset({"set", "reveal"})   # the weights themselves: checked on set_weights and at reveal

#: (error name, kinds it applies to, check → message or None), in the runtime's order
#: (pallets/subtensor weights.rs: do_set_weights, do_commit_weights, do_reveal_weights)
RULES: tuple[tuple[str, frozenset, Callable[[WeightsCall, Hyperparameters], str | None]], ...] = (
    ("CommitRevealEnabled", _SET, lambda c, hp: hp.commit_reveal_enabled and
        "commit-reveal is on for this subnet: commit the weights, then reveal them after the reveal period"),
    ("CommitRevealDisabled", _COMMIT | _REVEAL, lambda c, hp: not hp.commit_reveal_enabled and
        "commit-reveal is off on this subnet: set the weights directly"),
    ("HotKeyNotRegisteredInSubNet", _COMMIT, lambda c, hp: c.uid is None and
        f"the hotkey is not registered on subnet {c.netuid}: run `neuron register` first"),
    ("CommittingWeightsTooFast", _COMMIT, _too_fast),
    ("WeightVecNotEqualSize", _APPLY, lambda c, hp: len(c.uids) != len(c.values) and
        f"{len(c.uids)} uids but {len(c.values)} weights: they must have the same length"),
    ("UidsLengthExceedUidsInSubNet", _APPLY, lambda c, hp: len(c.uids) > c.n and
        f"{len(c.uids)} weights but the subnet has only {c.n} uids"),
    ("HotKeyNotRegisteredInSubNet", _APPLY, lambda c, hp: c.uid is None and
        f"the hotkey is not registered on subnet {c.netuid}: run `neuron register` first"),
    ("NotEnoughStakeToSetWeights", _APPLY, lambda c, hp: c.stake < hp.min_allowed_stake and
        f"the hotkey has {c.stake} rao staked, the subnet needs {hp.min_allowed_stake}: stake more"),
    ("IncorrectWeightVersionKey", _APPLY, lambda c, hp: bool(hp.weights_version) and c.version_key < hp.weights_version
        and f"version key {c.version_key} is below the subnet's {hp.weights_version}: upgrade the validator"),
    ("SettingWeightsTooFast", _SET, lambda c, hp: not hp.commit_reveal_enabled and _too_fast(c, hp)),
    ("NeuronNoValidatorPermit", _APPLY, lambda c, hp: not c.self_weight and not c.permit and
        f"uid {c.uid} has no validator permit: stake more and wait for the next epoch"),
    ("DuplicateUids", _APPLY, lambda c, hp: len(set(int(u) for u in c.uids)) != len(c.uids) and
        "a uid appears twice in the weights"),
    ("UidVecContainInvalidOne", _APPLY, lambda c, hp: next((
        f"uid {int(u)} does not exist on subnet {c.netuid} (it has {c.n} uids)"
        for u in c.uids if not 0 <= int(u) < c.n), None)),
    ("WeightVecLengthIsLow", _APPLY, lambda c, hp: not c.self_weight and len(c.uids) < min(hp.min_allowed_weights, c.n)
        and f"too few weights: {len(c.uids)} given, the subnet needs at least {min(hp.min_allowed_weights, c.n)}"),
    ("WeightsNotU16", _APPLY, lambda c, hp: any(not 0 <= int(v) <= U16_MAX for v in c.values) and
        "weights must be u16 values (0..65535): convert scores with chain.weights.scores_to_u16"),
    ("MaxWeightExceeded", _APPLY, _max_weight),
)


#: the same refusal under an older runtime's name (spec 148, May 2024)
ERROR_ALIASES: dict[str, tuple[str, ...]] = {
    "UidsLengthExceedUidsInSubNet": ("TooManyUids",), "HotKeyNotRegisteredInSubNet": ("NotRegistered",),
    "UidVecContainInvalidOne": ("InvalidUid",), "WeightVecLengthIsLow": ("NotSettingEnoughWeights",),
    "IncorrectWeightVersionKey": ("IncorrectNetworkVersionKey",), "NeuronNoValidatorPermit": ("NoValidatorPermit",),
}


def same_refusal(rule_error: str, runtime_error: str | None) -> bool:
    """True when the runtime's error name is the rule's (or its older name)."""
    return runtime_error == rule_error or runtime_error in ERROR_ALIASES.get(rule_error, ())


def weights_violation(call: WeightsCall, hp: Hyperparameters) -> Violation | None:
    """The first rule of RULES this call breaks, or None when the runtime would accept it."""
    for error, kinds, check in RULES:
        if call.kind in kinds:
            message = check(call, hp)
            if message:
                return Violation(error, message)
    return None


def call_from_metagraph(metagraph: Metagraph, hotkey: str, kind: str, uids: Sequence[int] = (),
                        values: Sequence[int] = (), version_key: int = 0, *, block: int | None = None) -> WeightsCall:
    """The WeightsCall a submission by `hotkey` would be, judged on the metagraph's state."""
    uid = metagraph.uid_of(hotkey)
    stake_rao = metagraph.extra.get("stake_rao")
    if uid is None:
        stake = 0
    elif stake_rao is not None:
        stake = int(stake_rao[uid])
    else:
        stake = int(round(float(metagraph.stake[uid]) * RAO_PER_TAO))
    return WeightsCall(kind=kind, netuid=metagraph.netuid, n=metagraph.n, uid=uid, stake=stake,
                       permit=uid is not None and bool(metagraph.validator_permit[uid]),
                       last_update=0 if uid is None else int(metagraph.last_update[uid]),
                       block=metagraph.block + 1 if block is None else block,
                       uids=tuple(int(u) for u in uids), values=tuple(int(v) for v in values),
                       version_key=int(version_key))


def explain_weights_rejection(metagraph: Metagraph, hparams: Hyperparameters, hotkey: str,
                              uids: Sequence[int], values: Sequence[int], version_key: int = 0, *,
                              block: int | None = None, commit: bool = False) -> str | None:
    """Why the chain would reject this set_weights (or, with commit=True, a commit of these weights and
    their later reveal), in one line; None if it would pass. `block` is the block the extrinsic lands
    in (default: the block after the metagraph's)."""
    kinds = ("commit", "reveal") if commit else ("set",)
    for kind in kinds:
        call = call_from_metagraph(metagraph, hotkey, kind, uids, values, version_key, block=block)
        v = weights_violation(call, hparams)
        if v is not None:
            return v.message
    return None


def reveal_epoch(block: int, netuid: int, tempo: int) -> int:
    """The runtime's epoch index of a block (commit-reveal windows are counted in these)."""
    return (block + netuid + 1) // (tempo + 1)


__all__ = ["normalize_max_weight", "max_upscale_u16", "max_weight_ok", "scores_to_u16", "WeightsCall",
           "Violation", "RULES", "ERROR_ALIASES", "same_refusal", "weights_violation", "call_from_metagraph", "explain_weights_rejection",
           "reveal_epoch"]
