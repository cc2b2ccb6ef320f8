"""Weight processing: float scores → the u16 vectors the chain accepts, and why a submission would fail.

Pure functions, shared by every backend and by validators:
- `normalize_max_weight(x, limit)`  shares summing to 1 with no share above `limit` (water-filling)
- `scores_to_u16(scores, ...)`      (uids, u16 values) max-upscaled to 65535, zeros dropped,
                                     honouring min_allowed_weights and max_weight_limit
- `max_weight_ok(values, limit)`    the runtime's own MaxWeightExceeded test, in exact integers
- `explain_weights_rejection(...)`  one line saying why the chain would reject a submission, or None
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from chain.types import U16_MAX, Hyperparameters, Metagraph

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
    if x.sum() <= 0 or n * limit <= 1.0:
        return np.full(n, 1.0 / n)
    x = x / x.max()
    capped = np.zeros(n, dtype=bool)
    while True:
        free = ~capped
        rest = 1.0 - capped.sum() * limit
        free_sum = x[free].sum()
        if free_sum <= 0:  # only zeros left uncapped: share the remainder evenly among them
            out = np.where(capped, limit, rest / max(free.sum(), 1))
            return out
        out = np.where(capped, limit, (x / free_sum) * rest)
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
    x[x < x.max(initial=0.0) * 1e-12] = 0.0  # negligible scores would vanish in u16: count them as 0
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
        top = x.max() if nnz else 1.0
        fill = [i for i in np.argsort(ids, kind="stable") if x[i] <= 0][: need - nnz]
        x = x.copy()
        x[fill] = top * _FILL_SHARE
    if max_weight_limit < U16_MAX:
        # aim one u16 step under the limit so rounding cannot push the max share over it
        limit = max(max_weight_limit - 1, 1) / U16_MAX
        shares = normalize_max_weight(x, limit)
    else:
        shares = x / x.sum()
    values = max_upscale_u16(shares)
    keep = values > 0
    return ids[keep].tolist(), values[keep].tolist()


# --- pre-check ----------------------------------------------------------------------------------
def explain_weights_rejection(metagraph: Metagraph, hparams: Hyperparameters, hotkey: str,
                              uids: Sequence[int], values: Sequence[int], version_key: int = 0, *,
                              block: int | None = None, commit: bool = False) -> str | None:
    """Why the chain would reject this set_weights (or commit, with commit=True), in one line; None if
    it would pass. Checks follow the runtime's order. `block` is the block the extrinsic lands in
    (default: the block after the metagraph's)."""
    block = metagraph.block + 1 if block is None else block
    if hparams.commit_reveal_enabled and not commit:
        return "commit-reveal is on for this subnet: commit the weights, then reveal them after the reveal period"
    if commit and not hparams.commit_reveal_enabled:
        return "commit-reveal is off on this subnet: set the weights directly"
    if len(uids) != len(values):
        return f"{len(uids)} uids but {len(values)} weights: they must have the same length"
    uid = metagraph.uid_of(hotkey)
    if uid is None:
        return f"hotkey {hotkey} is not registered on subnet {metagraph.netuid}: run `neuron register` first"
    if len(uids) > metagraph.n:
        return f"{len(uids)} weights but the subnet has only {metagraph.n} uids"
    if hparams.weights_version and version_key < hparams.weights_version:
        return f"version key {version_key} is below the subnet's {hparams.weights_version}: upgrade the validator"
    last = int(metagraph.last_update[uid])
    if not hparams.commit_reveal_enabled and last != 0 and block - last < hparams.weights_rate_limit:
        left = hparams.weights_rate_limit - (block - last)
        return (f"too soon: uid {uid} set weights at block {last}, the rate limit is {hparams.weights_rate_limit} "
                f"blocks; wait {left} more block{'s' if left != 1 else ''}")
    self_weight = len(uids) == 1 and int(uids[0]) == uid
    if not self_weight and not bool(metagraph.validator_permit[uid]):
        return f"uid {uid} has no validator permit: stake more and wait for the next epoch"
    if len(set(int(u) for u in uids)) != len(uids):
        return "a uid appears twice in the weights"
    bad = [int(u) for u in uids if not 0 <= int(u) < metagraph.n]
    if bad:
        return f"uid {bad[0]} does not exist on subnet {metagraph.netuid} (it has {metagraph.n} uids)"
    need = min(hparams.min_allowed_weights, metagraph.n)
    if not self_weight and len(uids) < need:
        return f"too few weights: {len(uids)} given, the subnet needs at least {need}"
    if not self_weight and any(int(v) for v in values):
        if not max_weight_ok(values, hparams.max_weight_limit):
            share = max(int(v) for v in values) / sum(int(v) for v in values)
            return (f"one weight is {share:.1%} of the total, over max_weight_limit "
                    f"{hparams.max_weight_limit / U16_MAX:.1%}: spread the weights (use scores_to_u16)")
    return None


def reveal_epoch(block: int, netuid: int, tempo: int) -> int:
    """The runtime's epoch index of a block (commit-reveal windows are counted in these)."""
    return (block + netuid + 1) // (tempo + 1)


__all__ = ["normalize_max_weight", "max_upscale_u16", "max_weight_ok", "scores_to_u16",
           "explain_weights_rejection", "reveal_epoch"]
