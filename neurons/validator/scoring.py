"""Each answering miner's marginal contribution to the mixture's loss (leave-one-out or sampled Shapley)."""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch

from neurons.validator.config import ScoringConfig
from neurons.validator.contract import MixtureSpec, Output


def coalition_losses(
    spec: MixtureSpec,
    outputs: Sequence[Output],  # [k] valid outputs
    weights: torch.Tensor,      # [batch, k] mixture weights over them
    challenge: Any,
    members: torch.Tensor,      # [m, k] bool, every row with at least one member
) -> torch.Tensor:              # [m, batch] loss of each coalition's renormalised mixture
    w = weights.unsqueeze(0) * members.unsqueeze(1)                     # [m, batch, k]
    total = w.sum(-1, keepdim=True)
    uniform = members.unsqueeze(1) / members.sum(-1, keepdim=True).unsqueeze(1)
    w = torch.where(total > 1e-12, w / total.clamp_min(1e-12), uniform)  # all weight on leavers -> uniform
    if getattr(spec, "batched_weights", False):
        return spec.loss(spec.combine(outputs, w), challenge)
    rows = []
    for j in range(members.shape[0]):
        idx = members[j].nonzero().flatten().tolist()
        rows.append(spec.loss(spec.combine([outputs[i] for i in idx], w[j][:, idx]), challenge))
    return torch.stack(rows)


def _null_loss(spec: MixtureSpec, challenge: Any) -> torch.Tensor | None:
    fn = getattr(spec, "null_loss", None)
    return None if fn is None else fn(challenge).float().mean()


@torch.no_grad()
def leave_one_out(spec, outputs, weights, challenge) -> torch.Tensor:
    """[k]: mean loss of the mixture without miner i minus the full mixture's (nan = not measurable)."""
    k = len(outputs)
    if k == 1:
        null = _null_loss(spec, challenge)
        full = spec.loss(spec.combine(outputs, weights), challenge).float().mean()
        return torch.tensor([math.nan if null is None else float(null - full)])
    members = torch.cat([torch.ones(1, k, dtype=torch.bool), ~torch.eye(k, dtype=torch.bool)])  # [k+1, k]
    losses = coalition_losses(spec, outputs, weights, challenge, members).float().mean(-1)  # [k+1]
    return losses[1:] - losses[0]


@torch.no_grad()
def shapley(spec, outputs, weights, challenge, permutations: int, generator=None) -> torch.Tensor:
    """[k]: sampled Shapley values in loss decrease (nan = not measurable).

    Each permutation adds miners one by one; a miner earns the loss drop it causes. When
    `permutations` >= k!, all k! orders are used (exact Shapley). Without the spec's `null_loss`,
    the first position of each permutation has no baseline and is not counted.
    """
    k = len(outputs)
    if permutations >= math.factorial(k):
        perms = torch.tensor(list(itertools.permutations(range(k))))              # [k!, k]
    else:
        perms = torch.stack([torch.randperm(k, generator=generator) for _ in range(permutations)])  # [P, k]
    permutations = perms.shape[0]
    ranks = torch.argsort(perms, dim=1)                                    # [P, k] position of miner i
    prefixes = ranks.unsqueeze(1) < torch.arange(1, k + 1).view(1, k, 1)   # [P, k, k]: first p+1 miners
    unique, inverse = torch.unique(prefixes.reshape(-1, k), dim=0, return_inverse=True)
    value = coalition_losses(spec, outputs, weights, challenge, unique).float().mean(-1)[inverse].view(permutations, k)
    null = _null_loss(spec, challenge)
    before = torch.cat([torch.full((permutations, 1), math.nan if null is None else float(null)), value[:, :-1]], 1)
    gain = before - value                                                  # [P, k] by position
    by_miner = torch.gather(gain, 1, ranks)                                # [P, k] by miner
    counted = torch.isfinite(by_miner)
    total = torch.where(counted, by_miner, torch.zeros(())).sum(0)
    n = counted.sum(0)
    return torch.where(n > 0, total / n.clamp_min(1), torch.full((k,), math.nan))


def score(
    spec: MixtureSpec,
    challenge: Any,
    outputs: Sequence[Output | None],  # [k], None for failed or invalid answers
    ok: torch.Tensor,                  # [k] bool
    weights: torch.Tensor,             # [batch, k] mixture weights (0 where not ok)
    config: ScoringConfig,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores [k] >= 0, measured [k] bool). Failures score 0; unmeasurable miners are not measured."""
    k = ok.numel()
    scores, measured = torch.zeros(k), torch.ones(k, dtype=torch.bool)
    idx = ok.nonzero().flatten()
    if idx.numel() == 0:
        return scores, measured
    outs = [outputs[i] for i in idx.tolist()]
    w = weights.detach()[:, idx]
    if config.method == "shapley":
        raw = shapley(spec, outs, w, challenge, config.permutations, generator)
    else:
        raw = leave_one_out(spec, outs, w, challenge)
    raw = raw.float()
    measured[idx] = ~torch.isnan(raw)
    scores[idx] = torch.where(torch.isfinite(raw), raw, torch.zeros(())).clamp_min(0.0)
    return scores, measured
