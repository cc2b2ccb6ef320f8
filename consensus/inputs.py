"""EpochInput: the chain state one epoch reads, validated into float64/int arrays."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class EpochInput:
    """Inputs over the uid space (n uids). Optional fields left None switch their mask off."""

    stake: Any  # (n,) raw stake
    weights: Any  # (n, n) raw non-negative weights, row i = weights set by uid i
    bonds: Any = None  # (n, n) bonds stored by the previous epoch (EpochResult.bonds; Yuma also takes raw u16)
    validator_permit: Any = None  # (n,) bool permits stored by the previous epoch; None = top-k of stake
    last_update: Any = None  # (n,) block of each uid's last set_weights
    block_at_registration: Any = None  # (n,)
    current_block: int | None = None
    activity_cutoff: int | None = None
    last_tempo: int | None = None  # block of the last epoch + 1: columns registered since lose their bonds
    owner_uid: int | None = None
    commit_blocks: Any = None  # (n,) earliest pending commit block per setter, np.inf = none


@dataclass
class Prepared:
    """Validated arrays (internal)."""

    n: int
    stake: np.ndarray  # (n,) float64
    weights: np.ndarray  # (n, n) float64 (not copied when already float64)
    bonds: np.ndarray | None
    validator_permit: np.ndarray | None  # (n,) bool
    last_update: np.ndarray | None  # (n,) int64
    block_at_registration: np.ndarray | None
    current_block: int | None
    activity_cutoff: int | None
    last_tempo: int | None
    owner_uid: int | None
    commit_blocks: np.ndarray | None  # (n,) float64


def _nonneg_finite(name: str, a: np.ndarray) -> None:
    """NaN, inf and negative checks without an array-sized temporary (min/max propagate NaN)."""
    if a.size == 0:
        return
    lo, hi = a.min(), a.max()
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{name}: contains NaN")
    if lo < 0:
        raise ValueError(f"{name}: contains negative values (min {lo!r}); must be >= 0")
    if np.isinf(hi):
        raise ValueError(f"{name}: contains inf; must be finite")


def _float_array(name: str, x: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: not a numeric array ({e})") from None
    if shape is None and a.ndim != 1:
        raise ValueError(f"{name}: must be a 1-D array, got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name}: shape {a.shape}, expected {shape}")
    return a


def _int_vector(name: str, x: Any, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.shape != (n,):
        raise ValueError(f"{name}: shape {a.shape}, expected ({n},)")
    if a.dtype.kind not in "iu":
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)) or np.any(a != np.floor(a)):
            raise ValueError(f"{name}: must hold integers (block numbers)")
    return a.astype(np.int64)


def _opt_int(name: str, x: Any) -> int | None:
    if x is None:
        return None
    try:
        ok = not isinstance(x, bool) and int(x) == x
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: must be an integer, got {x!r}")
    return int(x)


def prepare(inp: EpochInput) -> Prepared:
    if inp.stake is None:
        raise ValueError("stake: required, a 1-D array of raw stake per uid")
    stake = _float_array("stake", inp.stake, None)
    n = stake.shape[0]
    _nonneg_finite("stake", stake)
    weights = _float_array("weights", inp.weights, (n, n))
    _nonneg_finite("weights", weights)
    bonds = None
    if inp.bonds is not None:
        bonds = _float_array("bonds", inp.bonds, (n, n))
        _nonneg_finite("bonds", bonds)
    permit = None
    if inp.validator_permit is not None:
        permit = np.asarray(inp.validator_permit)
        if permit.shape != (n,):
            raise ValueError(f"validator_permit: shape {permit.shape}, expected ({n},)")
        if permit.dtype != bool:
            if not np.isin(permit, (0, 1)).all():
                raise ValueError("validator_permit: must be booleans")
            permit = permit.astype(bool)
    last_update = None if inp.last_update is None else _int_vector("last_update", inp.last_update, n)
    bar = None
    if inp.block_at_registration is not None:
        bar = _int_vector("block_at_registration", inp.block_at_registration, n)
    commit = None
    if inp.commit_blocks is not None:
        commit = _float_array("commit_blocks", inp.commit_blocks, (n,))
        if np.isnan(commit).any():
            raise ValueError("commit_blocks: contains NaN; use np.inf for 'no pending commit'")
    owner = _opt_int("owner_uid", inp.owner_uid)
    if owner is not None and not 0 <= owner < n:
        raise ValueError(f"owner_uid: {owner} is outside the uid space [0, {n})")
    return Prepared(
        n=n, stake=stake, weights=weights, bonds=bonds, validator_permit=permit,
        last_update=last_update, block_at_registration=bar,
        current_block=_opt_int("current_block", inp.current_block),
        activity_cutoff=_opt_int("activity_cutoff", inp.activity_cutoff),
        last_tempo=_opt_int("last_tempo", inp.last_tempo),
        owner_uid=owner, commit_blocks=commit,
    )
