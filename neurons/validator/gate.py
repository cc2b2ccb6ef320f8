"""The gate: a small MLP from a challenge's features to one logit per uid, resizable with the metagraph."""
from __future__ import annotations

import torch
from torch import nn


class Gate(nn.Module):
    """features [batch, d_feat] -> logits [batch, n_uids].

    The head (one row and one bias per uid) starts at zero, so every uid starts equal. Rows of new
    or re-registered uids are set to zero weight and the mean bias of the other uids: neutral.
    """

    def __init__(self, d_feat: int, n_uids: int, hidden: int = 64, seed: int = 0):
        super().__init__()
        if d_feat < 1 or n_uids < 1 or hidden < 1:
            raise ValueError(f"gate needs d_feat, n_uids, hidden >= 1 (got {d_feat}, {n_uids}, {hidden})")
        self.d_feat, self.hidden = d_feat, hidden
        with torch.random.fork_rng(devices=[]):  # reproducible init, global RNG untouched
            torch.manual_seed(seed)
            self.trunk = nn.Sequential(nn.Linear(d_feat, hidden), nn.GELU())
            self.head = nn.Linear(hidden, n_uids)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def n_uids(self) -> int:
        return self.head.out_features

    def config(self) -> dict:
        return {"d_feat": self.d_feat, "n_uids": self.n_uids, "hidden": self.hidden}

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 2 or features.shape[1] != self.d_feat:
            raise ValueError(f"gate expects features [batch, {self.d_feat}], got {list(features.shape)}")
        return self.head(self.trunk(features))

    def row_params(self) -> tuple[nn.Parameter, nn.Parameter]:
        """The per-uid parameters (dim 0 indexed by uid)."""
        return self.head.weight, self.head.bias

    @torch.no_grad()
    def resize(self, n_uids: int) -> None:
        """Keep rows [0, min(old, new)); new rows start neutral. Parameter objects are kept."""
        if n_uids < 1:
            raise ValueError(f"gate needs at least one uid (got {n_uids})")
        old = self.n_uids
        weight, bias = self.row_params()
        neutral = float(bias.mean()) if old else 0.0
        weight.data = _resize_rows(weight.data, n_uids, 0.0)
        bias.data = _resize_rows(bias.data, n_uids, neutral)
        self.head.out_features = n_uids

    @torch.no_grad()
    def reset_rows(self, uids: list[int]) -> None:
        """Forget what was learned about `uids` (re-registered: a new miner behind an old uid)."""
        if not uids:
            return
        weight, bias = self.row_params()
        keep = torch.ones(self.n_uids, dtype=torch.bool)
        keep[uids] = False
        neutral = float(bias[keep].mean()) if keep.any() else 0.0
        weight[uids] = 0.0
        bias[uids] = neutral


def _resize_rows(t: torch.Tensor, n: int, fill: float) -> torch.Tensor:
    """t [old, ...] -> [n, ...]: rows kept up to min(old, n), new rows = fill."""
    out = torch.full((n, *t.shape[1:]), fill, dtype=t.dtype, device=t.device)
    m = min(n, t.shape[0])
    out[:m] = t[:m]
    return out
