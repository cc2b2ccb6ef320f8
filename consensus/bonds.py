"""Bond masks, the bond EMA (Yuma, Yuma 3, liquid alpha), dividends and bond write-back (SPEC step 10)."""
from __future__ import annotations

import numpy as np

from .params import U16_MAX, YumaParams
from .vecmath import col_max_upscale, col_normalize, normalize


def masked_bonds(
    bonds: np.ndarray | None,  # [n, n] stored bonds or None
    rows: np.ndarray,  # (r,)
    n: int,
    last_tempo: int | None,
    block_at_registration: np.ndarray | None,
    outdated_rows: np.ndarray | None,  # [r, n] bool (spec148's per-cell mask)
    variant: str,
) -> np.ndarray:
    """Previous bonds of `rows` with the variant's mask applied -> [r, n] (a fresh array)."""
    if bonds is None:
        return np.zeros((rows.shape[0], n))
    b = bonds[rows]
    if variant == "spec148":
        if outdated_rows is not None:
            b[outdated_rows] = 0.0  # per cell: bonds set before j's registration
    elif last_tempo is not None and block_at_registration is not None:
        b[:, last_tempo <= block_at_registration] = 0.0  # columns registered since the last epoch
    return b


def liquid_alpha(wb: np.ndarray, b: np.ndarray, consensus: np.ndarray, p: YumaParams) -> np.ndarray:
    """Per-cell EMA alpha from a sigmoid of the buy/sell distance -> [r, n]."""
    buy = np.clip(wb - consensus[None, :], 0.0, 1.0)
    sell = np.clip(b - wb, 0.0, 1.0)
    d = np.where(wb >= b, buy, sell)
    z = np.clip(-(p.alpha_sigmoid_steepness / 100.0) * (d - 0.5), -20.0, 20.0)
    lo, hi = p.alpha_low, p.alpha_high
    return np.clip(lo + (hi - lo) / (1.0 + np.exp(z)), lo, hi)


def yuma3_bonds(wb: np.ndarray, b: np.ndarray, consensus: np.ndarray, p: YumaParams) -> np.ndarray:
    """Yuma 3: bonds as proportions in [0, 1], no column normalisation -> [r, n]."""
    if p.liquid_alpha and np.any(consensus != 0):
        a = liquid_alpha(wb, b, consensus, p)
        new = np.minimum(1.0, (1.0 - a) * b + np.maximum(0.0, a * wb))
        if p.la_sparse_drop:  # the chain's sparse EMA only emits entries present in W_b
            new[wb == 0] = 0.0
        return new
    a = p.ema_alpha
    return a * wb + (1.0 - a) * b


def yuma_bonds(wb: np.ndarray, b: np.ndarray, active_stake: np.ndarray, p: YumaParams) -> np.ndarray:
    """Classic Yuma: column-normalised EMA of column-normalised bond purchases -> [r, n]."""
    a = p.ema_alpha
    delta = col_normalize(wb * active_stake[:, None])
    return col_normalize(a * delta + (1.0 - a) * col_normalize(b))


def epoch_bonds(wb, b, consensus, incentive, active_stake, p: YumaParams):
    """Return (column-normalised bonds used for dividends [r, n], bonds to store [r, n], dividends (r,))."""
    if p.yuma3:
        new = yuma3_bonds(wb, b, consensus, p)
        ema = col_normalize(new)
        dividends = normalize(active_stake * (ema @ incentive))
        stored = np.floor(new * U16_MAX) / U16_MAX if p.quantize_bonds else new
    else:
        ema = yuma_bonds(wb, b, active_stake, p)
        dividends = normalize(ema @ incentive)
        stored = col_max_upscale(ema)
        if p.quantize_bonds:
            stored = np.floor(stored * U16_MAX) / U16_MAX
    return ema, stored, dividends


def write_back(
    out: np.ndarray,  # [n, n] zeros, filled in place
    rows: np.ndarray,  # (r,) every row that can be non-zero
    stored: np.ndarray,  # [r, n] new bonds of rows
    prev: np.ndarray | None,  # [n, n] bonds stored before this epoch
    new_permit: np.ndarray,
    old_permit: np.ndarray,
) -> None:
    """Rows with a new permit get new bonds; rows that lost a permit are cleared; others keep theirs."""
    won = new_permit[rows]
    out[rows[won]] = stored[won]
    if prev is not None:
        keep = rows[~won & ~old_permit[rows]]
        out[keep] = prev[keep]
