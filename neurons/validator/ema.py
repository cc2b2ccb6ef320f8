"""Per-uid score EMA and the weight vector it gives the chain (pure functions)."""
from __future__ import annotations

import torch


def ema_update(ema: torch.Tensor, uids: torch.Tensor, scores: torch.Tensor, alpha: float) -> torch.Tensor:
    """New EMA [n_uids]: queried uids move `alpha` of the way to their step score; others keep theirs.

    ema: [n_uids]; uids: [k] distinct; scores: [k] (non-finite or negative scores count as 0).
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"EMA alpha must be in (0, 1], got {alpha}")
    out = ema.clone()
    clean = torch.where(torch.isfinite(scores), scores, torch.zeros(())).clamp_min(0.0).to(ema.dtype)
    out[uids] = (1.0 - alpha) * ema[uids] + alpha * clean
    return out


def weights_from_scores(ema: torch.Tensor) -> torch.Tensor:
    """[n_uids] float64 weights for the chain: non-negative, summing to 1, or all 0 if nobody scored."""
    w = torch.where(torch.isfinite(ema), ema, torch.zeros(())).clamp_min(0.0).to(torch.float64)
    total = w.sum()
    return w / total if total > 0 else torch.zeros_like(w)


def resize_scores(ema: torch.Tensor, n_uids: int, reset: list[int]) -> torch.Tensor:
    """EMA for a new metagraph size: rows kept, new uids and re-registered `reset` uids start at 0."""
    out = ema.new_zeros(n_uids)
    m = min(n_uids, ema.numel())
    out[:m] = ema[:m]
    out[[u for u in reset if u < n_uids]] = 0.0
    return out
