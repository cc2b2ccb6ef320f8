"""What the chain stores: u16 proportions and u64 emission amounts from float64 epoch outputs."""
from __future__ import annotations

import numpy as np

from .params import U16_MAX
from .result import EpochResult

# float64 puts k/65535 * 65535 a few ulps below k; the chain's I32F32 resolution is ~1.5e-5 u16
# units, so nudging by 1e-6 units only undoes float rounding.
_EPS = 1e-6


def to_u16(x) -> np.ndarray:
    """fixed_proportion_to_u16: floor(x * 65535), clipped to [0, 65535] -> uint16 array."""
    a = np.asarray(x, dtype=np.float64)
    if np.isnan(a).any():
        raise ValueError("x: contains NaN")
    return np.clip(np.floor(a * U16_MAX + _EPS), 0, U16_MAX).astype(np.uint16)


def round_u16(x) -> np.ndarray:
    """Round half away from zero to u16 (spec148 vec_max_upscale_to_u16, used for PruningScores)."""
    a = np.asarray(x, dtype=np.float64) * U16_MAX
    return np.clip(np.floor(a + 0.5), 0, U16_MAX).astype(np.uint16)


def emission_amounts(share, rao_emission: int) -> np.ndarray:
    """floor(share * rao_emission) as the runtime computes it: share as I32F32 (floor(share * 2**32)),
    times the rao amount in I96F32, truncated to u64. Exact for fixed_point results."""
    if isinstance(rao_emission, bool) or int(rao_emission) != rao_emission or rao_emission < 0:
        raise ValueError(f"rao_emission: must be a non-negative integer, got {rao_emission!r}")
    raw = np.floor(np.asarray(share, dtype=np.float64) * 2.0**32)
    return np.array([(int(r) * int(rao_emission)) >> 32 for r in raw.ravel()], dtype=np.uint64).reshape(raw.shape)


def stored_u16(res: EpochResult) -> dict[str, np.ndarray]:
    """The per-uid u16 values the chain stores after this epoch (spec148 adds Rank, Trust, PruningScores).

    For fixed_point results these are the runtime's exact values; otherwise floor(x * 65535) of float64.
    """
    if res.u16 is not None:
        return {**res.u16, "Bonds": to_u16(res.bonds)}
    out = {
        "Consensus": to_u16(res.consensus),
        "Incentive": to_u16(res.incentive),
        "Dividends": to_u16(res.dividends),
        "ValidatorTrust": to_u16(res.validator_trust),
        "StakeWeight": to_u16(res.stake_normalized),
        "ValidatorPermit": res.new_validator_permit.copy(),
        "Bonds": to_u16(res.bonds),
    }
    if res.trust is not None:
        out["Rank"] = to_u16(res.incentive)  # the runtime normalises ranks in place before storing
        out["Trust"] = to_u16(res.trust)
        out["PruningScores"] = round_u16(res.pruning_scores)
    return out
