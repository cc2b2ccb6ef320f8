"""Emission shares from incentive and dividends (SPEC step 11)."""
from __future__ import annotations

import numpy as np

from .vecmath import normalize


def emission_shares(incentive, dividends, active_stake, stake):
    """Return (server_share, validator_share, combined_share), each (n,).

    Normally each side sums to 1/2. With no incentive and no dividends, validators and the
    combined share follow active stake (or stake when no stake is active).
    """
    esum = incentive.sum() + dividends.sum()
    if esum > 0:
        return incentive / esum, dividends / esum, normalize(incentive + dividends)
    fallback = active_stake if active_stake.any() else stake
    return incentive.copy(), fallback.copy(), fallback.copy()


def max_upscale(x: np.ndarray) -> np.ndarray:
    """x / max(x) (spec148 PruningScores before rounding to u16); all-zero stays zero."""
    m = x.max() if x.size else 0.0
    return x / m if m > 0 else np.zeros_like(x)
