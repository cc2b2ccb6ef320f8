"""Stake normalisation, validator permits and active stake (SPEC steps 1-4)."""
from __future__ import annotations

import numpy as np

from .vecmath import normalize


def normalized_stake(raw: np.ndarray, threshold: float, owner_uid: int | None) -> np.ndarray:
    """Zero stakes below threshold (the owner is exempt) and normalise to sum 1."""
    s = raw.copy()
    below = s < threshold
    if owner_uid is not None:
        below[owner_uid] = False
    s[below] = 0.0
    return normalize(s)


def top_k(stake: np.ndarray, k: int, nonzero: bool) -> np.ndarray:
    """The chain's is_topk(_nonzero): a stable ascending sort, the n-k smallest lose (lower uid loses ties)."""
    n = stake.shape[0]
    permit = np.zeros(n, dtype=bool)
    order = np.argsort(stake, kind="stable")
    permit[order[max(n - int(k), 0):]] = True
    if nonzero:
        permit &= stake > 0
    return permit


def new_permits(stake: np.ndarray, k: int, owner_uid: int | None, variant: str) -> np.ndarray:
    """Permits this epoch stores. current: top-k of non-zero stake + owner; spec148: plain top-k;
    spec293: top-k of non-zero stake (callers pass owner_uid=None)."""
    if variant == "spec148":
        return top_k(stake, k, nonzero=False)
    permit = top_k(stake, k, nonzero=True)
    if owner_uid is not None:
        permit[owner_uid] = True
    return permit


def inactive_mask(n: int, last_update, current_block, activity_cutoff) -> np.ndarray:
    """inactive_i = last_update_i + activity_cutoff < current_block; all active if any input is missing."""
    if last_update is None or current_block is None or activity_cutoff is None:
        return np.zeros(n, dtype=bool)
    return last_update + activity_cutoff < current_block


def active_stake(stake: np.ndarray, permit: np.ndarray, inactive: np.ndarray) -> np.ndarray:
    """Stake of active uids holding a (previous) permit, normalised."""
    return normalize(np.where(permit & ~inactive, stake, 0.0))
