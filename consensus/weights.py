"""Weight masking and row normalisation (SPEC step 5), on the rows that can hold weights."""
from __future__ import annotations

import numpy as np

from .vecmath import row_normalize


def outdated(rows: np.ndarray, last_update, block_at_registration) -> np.ndarray | None:
    """outdated[a, j] = last_update[rows[a]] <= block_at_registration[j]  -> [r, n] bool, or None."""
    if last_update is None or block_at_registration is None:
        return None
    return last_update[rows, None] <= block_at_registration[None, :]


def masked_weights(
    weights: np.ndarray,  # [n, n] raw
    rows: np.ndarray,  # (r,) uids whose rows are kept; every other row is zero after masking
    permit: np.ndarray,  # (n,) previous permits
    owner_uid: int | None,
    outdated_rows: np.ndarray | None,  # [r, n] bool
    commit_blocks: np.ndarray | None,
    block_at_registration: np.ndarray | None,
    variant: str,
) -> np.ndarray:
    """Return W[rows] masked and row-normalised -> [r, n] float64 (a fresh array)."""
    w = weights[rows]  # fancy indexing copies
    w[~permit[rows]] = 0.0
    diag = np.arange(rows.shape[0])
    keep_owner = variant in ("current", "spec293") and owner_uid is not None
    self_w = np.where(rows == owner_uid, w[diag, rows], 0.0) if keep_owner else 0.0
    w[diag, rows] = self_w
    if outdated_rows is not None:
        w[outdated_rows] = 0.0
    if variant == "current" and commit_blocks is not None and block_at_registration is not None:
        w[commit_blocks[rows, None] < block_at_registration[None, :]] = 0.0
    return row_normalize(w)
