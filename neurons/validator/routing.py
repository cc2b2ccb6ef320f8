"""Per-input noisy top-k routing with exploration, and the masked softmax it mixes with.

Each input (batch row) goes to its own top-k serving uids by the gate's (noisy) logit; a miner
receives only the rows routed to it. `explore` further serving uids, drawn at random among those no
row picked, receive every row, so the gate keeps learning about miners it does not yet route to.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Route:
    uids: torch.Tensor      # [k] int64 distinct: the uids some row's top-k picked, then the explored ones
    rows: torch.Tensor      # [batch, k] bool: row b is sent to uids[j]
    explored: torch.Tensor  # [k] bool: True where the uid was picked by exploration
    serving: torch.Tensor   # [n_uids] bool: the serving mask the route was drawn from

    def __len__(self) -> int:
        return int(self.uids.numel())

    def indices(self, j: int) -> torch.Tensor:
        """[n_j] int64: the rows sent to the j-th routed uid."""
        return self.rows[:, j].nonzero().flatten()

    def subset(self, keep: list[int]) -> "Route":
        """The route restricted to the routed uids at positions `keep`."""
        return Route(self.uids[keep], self.rows[:, keep], self.explored[keep], self.serving)


def select(
    logits: torch.Tensor,      # [batch, n_uids]
    serving: torch.Tensor,     # [n_uids] bool
    top_k: int,
    explore: int,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> Route:
    """Each row's top-k serving uids by noisy logit, plus `explore` unpicked serving uids for every row."""
    batch, n = logits.shape
    if serving.shape != (n,):
        raise ValueError(f"serving mask has shape {list(serving.shape)}, expected [{n}]")
    scores = logits.detach().float()
    if noise_std > 0:
        scores = scores + noise_std * torch.randn(batch, n, generator=generator)
    scores = scores.masked_fill(~serving, float("-inf"))
    k = min(top_k, int(serving.sum()))
    picked = torch.zeros(batch, n, dtype=torch.bool)                       # [batch, n_uids]
    if k:
        picked.scatter_(1, torch.topk(scores, k, dim=1).indices, True)
    top = picked.any(0).nonzero().flatten()                                # [k_top]
    candidates = (serving & ~picked.any(0)).nonzero().flatten()
    if explore > 0:  # no draw otherwise: plain top-k must not move the exploration sequence
        extra = candidates[torch.randperm(candidates.numel(), generator=generator)[:explore]]
    else:
        extra = candidates[:0]
    uids = torch.cat([top, extra])
    rows = torch.cat([picked[:, top], torch.ones(batch, extra.numel(), dtype=torch.bool)], 1)
    explored = torch.arange(uids.numel()) >= top.numel()
    return Route(uids=uids, rows=rows, explored=explored, serving=serving.clone())


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim where mask is True; masked entries (and all-masked rows) get 0."""
    mask = mask.expand_as(logits)
    filled = logits.masked_fill(~mask, float("-inf")).masked_fill(~mask.any(-1, keepdim=True), 0.0)
    return torch.softmax(filled, dim=-1) * mask
