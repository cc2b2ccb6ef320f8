"""Small float64 vector/matrix helpers shared by the epoch steps."""
from __future__ import annotations

import numpy as np


def normalize(x: np.ndarray) -> np.ndarray:
    """x / sum(x); an all-zero vector stays zero."""
    s = x.sum()
    return x / s if s > 0 else np.zeros_like(x)


def col_normalize(m: np.ndarray) -> np.ndarray:
    """Divide each column by its sum; zero columns stay zero.  m: [rows, n]."""
    s = m.sum(axis=0)
    return np.divide(m, s, out=np.zeros_like(m), where=s > 0)


def row_normalize(m: np.ndarray) -> np.ndarray:
    """In place: divide each row with a positive sum by that sum.  m: [rows, n]."""
    s = m.sum(axis=1, keepdims=True)
    np.divide(m, s, out=m, where=s > 0)
    return m


def col_max_upscale(m: np.ndarray) -> np.ndarray:
    """Divide each column by its max (the chain stores bonds so that max_i b_ij = 1)."""
    mx = m.max(axis=0) if m.shape[0] else np.zeros(m.shape[1])
    return np.divide(m, mx, out=np.zeros_like(m), where=mx > 0)
