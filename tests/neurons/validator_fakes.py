"""FakeSpec: a synthetic regression subnet for the validator's gate/scoring unit tests.

A challenge is x [batch, d_feat] and a target y [batch, d_out]; miner i answers y plus Gaussian
noise whose std may depend on the sign of x[:, 0] (a conditional task). The mixture is the
weighted mean of the answers, the loss its squared error. Also implements the optional extras
(`null_loss`, `batched_weights`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch


@dataclass
class FakeChallenge:
    x: torch.Tensor  # [batch, d_feat]
    y: torch.Tensor  # [batch, d_out]


class FakeSpec:
    batched_weights = True

    def __init__(self, d_feat: int = 4, d_out: int = 8, batch: int = 64):
        self.d_feat, self.d_out, self.batch = d_feat, d_out, batch

    def challenge(self, seed: int) -> FakeChallenge:
        g = torch.Generator().manual_seed(seed)
        return FakeChallenge(torch.randn(self.batch, self.d_feat, generator=g),
                             torch.randn(self.batch, self.d_out, generator=g))

    def features(self, ch: FakeChallenge) -> torch.Tensor:
        return ch.x

    def combine(self, outputs, weights: torch.Tensor) -> torch.Tensor:
        answers = torch.stack([o["y"] for o in outputs])           # [k, batch, d_out]
        return torch.einsum("...bk,kbd->...bd", weights, answers)  # [..., batch, d_out]

    def loss(self, mixture: torch.Tensor, ch: FakeChallenge) -> torch.Tensor:
        return ((mixture - ch.y) ** 2).mean(-1)                    # [..., batch]

    def null_loss(self, ch: FakeChallenge) -> torch.Tensor:
        return (ch.y ** 2).mean(-1)                                # predicting 0


class FakeLoopSpec(FakeSpec):
    """The same task without the batched-weights fast path and without a null loss."""
    batched_weights = False
    null_loss = None


@dataclass
class FakeMiner:
    """Answers the target plus noise of std `noise_pos` where x[:, 0] > 0, else `noise_neg`."""
    noise_pos: float
    noise_neg: float | None = None
    seed: int = 0

    def __post_init__(self):
        self.g = torch.Generator().manual_seed(self.seed)

    def answer(self, ch: FakeChallenge) -> dict[str, torch.Tensor]:
        neg = self.noise_pos if self.noise_neg is None else self.noise_neg
        std = torch.where(ch.x[:, :1] > 0, self.noise_pos, neg)   # [batch, 1]
        return {"y": ch.y + std * torch.randn(ch.y.shape, generator=self.g)}


def run_steps(moe, spec, miners, steps, seed0=0, serving=None, failing=()):
    """Drive `moe` for `steps` synthetic steps; returns the list of StepResults."""
    results = []
    serving = torch.ones(moe.n_uids, dtype=torch.bool) if serving is None else serving
    for s in range(steps):
        ch = spec.challenge(seed0 + s)
        feats = spec.features(ch)
        route = moe.select(feats, serving)
        outs = [None if int(u) in failing else miners[int(u)].answer(ch) for u in route.uids]
        results.append(moe.learn(spec, ch, feats, route, outs))
    return results


@pytest.fixture(autouse=False)
def one_torch_thread():
    """Tiny tensors: one intra-op thread is ~7x faster than two on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
