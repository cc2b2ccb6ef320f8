"""Stake-weighted kappa-quantile of every column (SPEC step 6), vectorised over column blocks."""
from __future__ import annotations

import numpy as np

BLOCK = 1024  # columns per block: temporaries are [BLOCK, rows]


def weighted_median_cols(stake: np.ndarray, w: np.ndarray, kappa: float) -> np.ndarray:
    """c_j = min{x in column j : sum_{i: w_ij <= x} s_i > sum(s) - kappa}; column max if none qualifies.

    stake: (r,) active stake of the rows of w; rows with zero stake are ignored and the rest
    renormalised. w: [r, n]. Returns (n,); all zeros when no row has stake.
    """
    n = w.shape[1]
    pos = stake > 0
    if not pos.any():
        return np.zeros(n)
    s = stake[pos] / stake[pos].sum()
    minority = s.sum() - kappa
    v = w[pos] if not pos.all() else w  # [a, n]
    out = np.empty(n)
    for c0 in range(0, n, BLOCK):
        blk = np.ascontiguousarray(v[:, c0:c0 + BLOCK].T)  # [b, a] one column per row
        order = np.argsort(blk, axis=1)  # one sort per column along the stake axis
        cum = s[order]
        np.cumsum(cum, axis=1, out=cum)  # [b, a] stake at or below each sorted value
        hit = cum > minority
        first = hit.argmax(axis=1)
        b = np.arange(blk.shape[0])
        vals = blk[b, order[b, first]]
        out[c0:c0 + BLOCK] = np.where(hit[b, first], vals, blk.max(axis=1))
    return out
