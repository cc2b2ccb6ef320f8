"""Noisy top-k routing with a guaranteed exploration share, and the masked softmax it mixes with."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Route:
    uids: torch.Tensor      # [k] int64: the gate's top-k first, then the explored uids
    explored: torch.Tensor  # [k] bool: True where the uid was picked by exploration
    serving: torch.Tensor   # [n_uids] bool: the serving mask the route was drawn from

    def __len__(self) -> int:
        return int(self.uids.numel())


def select(
    logits: torch.Tensor,      # [batch, n_uids]
    serving: torch.Tensor,     # [n_uids] bool
    top_k: int,
    explore: int,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> Route:
    """Top-k serving uids by batch-mean noisy logit, plus `explore` other serving uids at random."""
    n = logits.shape[1]
    if serving.shape != (n,):
        raise ValueError(f"serving mask has shape {list(serving.shape)}, expected [{n}]")
    scores = logits.detach().float().mean(0)  # [n_uids]
    if noise_std > 0:
        scores = scores + noise_std * torch.randn(n, generator=generator)
    scores = scores.masked_fill(~serving, float("-inf"))
    k = min(top_k, int(serving.sum()))
    top = torch.topk(scores, k).indices if k else torch.empty(0, dtype=torch.long)
    others = serving.clone()
    others[top] = False
    candidates = others.nonzero().flatten()
    if explore > 0:  # no draw otherwise: plain top-k must not move the exploration sequence
        picked = candidates[torch.randperm(candidates.numel(), generator=generator)[:explore]]
    else:
        picked = candidates[:0]
    uids = torch.cat([top, picked])
    explored = torch.arange(uids.numel()) >= top.numel()
    return Route(uids=uids, explored=explored, serving=serving.clone())


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim where mask is True; masked entries (and all-masked rows) get 0."""
    mask = mask.expand_as(logits)
    filled = logits.masked_fill(~mask, float("-inf")).masked_fill(~mask.any(-1, keepdim=True), 0.0)
    return torch.softmax(filled, dim=-1) * mask
