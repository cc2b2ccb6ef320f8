"""Per-uid moving averages of contribution scores, their uncertainty, and the chain weights (pure functions).

A uid's weight is a lower confidence bound of its contribution, never a clipped mean: a miner whose
answers carry no information has contributions around 0, so its bound sits below 0 and it earns
nothing, however lucky a few steps were.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

LIMIT = 1e6  # bound on a step's mean contribution


@dataclass
class ScoreStats:
    """Exponential moving averages per uid, all [n_uids] float32."""
    mean: torch.Tensor    # of the step's mean contribution (signed)
    sq: torch.Tensor      # of its square: between-step spread = sq - mean**2
    within: torch.Tensor  # of the step's squared standard error (spread over the step's items)

    @classmethod
    def zeros(cls, n: int) -> "ScoreStats":
        return cls(torch.zeros(n), torch.zeros(n), torch.zeros(n))

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"scores": self.mean.clone(), "score_sq": self.sq.clone(), "score_within": self.within.clone()}


def _clean(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x), x, torch.zeros(()))


def ema_update(stats: ScoreStats, uids: torch.Tensor, mean: torch.Tensor, se2: torch.Tensor,
               alpha: float) -> ScoreStats:
    """Move the queried `uids` [k] (distinct) `alpha` of the way to their step's mean [k] and squared
    standard error se2 [k]; other uids keep theirs. Non-finite inputs count as 0; means are clamped
    to +-LIMIT and se2 to [0, LIMIT**2]."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"EMA alpha must be in (0, 1], got {alpha}")
    # loss differences are far smaller; the clamp keeps squares finite in float32 whatever a spec returns
    m = _clean(mean).clamp(-LIMIT, LIMIT).to(stats.mean.dtype)
    v = _clean(se2).clamp(0.0, LIMIT ** 2).to(stats.mean.dtype)
    out = ScoreStats(stats.mean.clone(), stats.sq.clone(), stats.within.clone())
    out.mean[uids] = (1 - alpha) * stats.mean[uids] + alpha * m
    out.sq[uids] = (1 - alpha) * stats.sq[uids] + alpha * m * m
    out.within[uids] = (1 - alpha) * stats.within[uids] + alpha * v
    return out


def lower_bound(stats: ScoreStats, alpha: float, z: float) -> torch.Tensor:
    """[n_uids]: mean - z * standard error of the EMA, which averages ~(2 - alpha) / alpha steps.

    The step-to-step spread and the within-step standard error both estimate one step's noise;
    the larger counts (the first is 0 for a miner seen once, the second misses challenge-to-challenge
    variation)."""
    between = (stats.sq - stats.mean ** 2).clamp_min(0.0)
    step_var = torch.maximum(between, stats.within)
    return stats.mean - z * (alpha / (2 - alpha) * step_var).sqrt()


def weights_from_scores(bound: torch.Tensor) -> torch.Tensor:
    """[n_uids] float64 weights for the chain: the positive part of the bounds, summing to 1 (or all 0)."""
    w = _clean(bound).clamp_min(0.0).to(torch.float64)
    total = w.sum()
    return w / total if total > 0 else torch.zeros_like(w)


def resize_scores(stats: ScoreStats, n_uids: int, reset: list[int]) -> ScoreStats:
    """Stats for a new metagraph size: rows kept, new uids and re-registered `reset` uids start at 0."""
    def one(t: torch.Tensor) -> torch.Tensor:
        out = t.new_zeros(n_uids)
        m = min(n_uids, t.numel())
        out[:m] = t[:m]
        out[[u for u in reset if u < n_uids]] = 0.0
        return out
    return ScoreStats(one(stats.mean), one(stats.sq), one(stats.within))
