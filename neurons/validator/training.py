"""Online training of the gate: mix the answering miners through it, descend the subnet loss."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from neurons.config.schema import GateSection
from neurons.validator.contract import MixtureSpec, Output
from neurons.validator.gate import Gate
from neurons.validator.routing import Route, masked_softmax, select


def balance_loss(logits: torch.Tensor, serving: torch.Tensor, picked: torch.Tensor | None = None) -> torch.Tensor:
    """Load-balancing term over the serving uids, 0 when load is spread evenly.

    With `picked` [batch, n_uids] bool (the rows each uid was routed, per-input top-k), the
    Switch-Transformer term n * sum_i f_i * P_i - 1: f_i the share of routed slots uid i took,
    P_i its mean gate probability; it lowers the probability of overloaded uids, so equal experts
    end up sharing the inputs. Without it, KL(batch-mean routing || uniform).
    logits: [batch, n_uids]; serving: [n_uids] bool with at least one True.
    """
    probs = masked_softmax(logits, serving.unsqueeze(0)).mean(0)[serving]  # [n_serving]
    n = probs.numel()
    if picked is None or not bool(picked.any()):
        return (probs * torch.log(probs.clamp_min(1e-12) * n)).sum()
    load = picked[:, serving].float().sum(0)
    share = load / load.sum()                                               # [n_serving]
    return n * (share * probs).sum() - 1.0


@dataclass
class TrainStep:
    weights: torch.Tensor  # [batch, k] detached mixture weights (0 for miners that failed)
    loss: float            # mean subnet loss of the mixture before the update (nan if nobody answered)
    balance: float         # load-balancing term
    updated: bool          # False when the step was skipped (nobody answered, non-finite loss)


class GateTrainer:
    """The gate, its Adam optimizer and its routing noise, kept consistent through resizes."""

    def __init__(self, d_feat: int, n_uids: int, config: GateSection | None = None, seed: int = 0):
        self.config = config or GateSection()
        self.gate = Gate(d_feat, n_uids, self.config.hidden, seed)
        self.optimizer = torch.optim.Adam(self.gate.parameters(), lr=self.config.lr)
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def route(self, features: torch.Tensor, serving: torch.Tensor, explore: bool = True) -> Route:
        """explore=False (serving applications): the plain top-k, no noise, no random picks."""
        c = self.config
        m, noise = (c.explore, c.noise_std) if explore else (0, 0.0)
        return select(self.gate(_as_input(features)), serving, c.top_k, m, noise, self.generator)

    def mixture_weights(self, features: torch.Tensor, uids: torch.Tensor, mask: torch.Tensor):
        """(logits [batch, n_uids], weights [batch, k]: each row's softmax over its routed, answering
        uids (mask [batch, k] or [k] bool), 0 elsewhere)."""
        logits = self.gate(_as_input(features))
        return logits, masked_softmax(logits[:, uids], mask if mask.dim() == 2 else mask.unsqueeze(0))

    def train_step(
        self,
        spec: MixtureSpec,
        challenge: Any,
        features: torch.Tensor,    # [batch, d_feat]
        route: Route,
        ok: torch.Tensor,          # [k] bool: the miner answered with a valid output
        outputs: Sequence[Output | None],  # [k], None where not ok; others placed in the full batch
    ) -> TrainStep:
        logits, weights = self.mixture_weights(features, route.uids, route.rows & ok.unsqueeze(0))
        answered = (route.rows & ok.unsqueeze(0)).any(1)                  # [batch] rows with an answer
        if not bool(answered.any()):
            return TrainStep(weights.detach(), math.nan, math.nan, False)
        idx = ok.nonzero().flatten().tolist()
        mixture = spec.combine([outputs[i] for i in idx], weights[:, idx])
        task = spec.loss(mixture, challenge)[answered].mean()
        picked = torch.zeros_like(logits, dtype=torch.bool)
        gate_cols = (~route.explored).nonzero().flatten()
        picked[:, route.uids[gate_cols]] = route.rows[:, gate_cols]
        balance = balance_loss(logits, route.serving, picked)
        total = task + self.config.balance_weight * balance
        updated = bool(torch.isfinite(total))
        if updated:  # a non-finite loss would poison the gate: skip the update, keep the scores
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(self.gate.parameters(), self.config.max_grad_norm)
            self.optimizer.step()
        return TrainStep(weights.detach(), float(task.detach()), float(balance.detach()), updated)

    def resize(self, n_uids: int) -> None:
        """Grow or shrink the uid space; the optimizer's moments follow the parameter rows."""
        self.gate.resize(n_uids)
        for p in self.gate.row_params():
            for key, moment in self.optimizer.state.get(p, {}).items():
                if torch.is_tensor(moment) and moment.dim() > 0:
                    out = moment.new_zeros((n_uids, *moment.shape[1:]))
                    m = min(n_uids, moment.shape[0])
                    out[:m] = moment[:m]
                    self.optimizer.state[p][key] = out

    def reset_uids(self, uids: list[int]) -> None:
        self.gate.reset_rows(uids)
        for p in self.gate.row_params():
            for moment in self.optimizer.state.get(p, {}).values():
                if torch.is_tensor(moment) and moment.dim() > 0:
                    moment[uids] = 0.0

    def state_dict(self) -> dict:
        return {
            "gate_config": self.gate.config(),
            "gate": self.gate.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Load a state saved by `state_dict` (the gate's shape must match; see `from_state_dict`)."""
        self.gate.load_state_dict(state["gate"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["rng"])

    @classmethod
    def from_state_dict(cls, state: dict, config: GateSection | None = None) -> "GateTrainer":
        cfg = dict(state["gate_config"])
        config = (config or GateSection()).model_copy(update={"hidden": cfg["hidden"]})
        trainer = cls(cfg["d_feat"], cfg["n_uids"], config)
        trainer.load_state_dict(state)
        for group in trainer.optimizer.param_groups:  # the configured learning rate wins over the saved one
            group["lr"] = config.lr
        return trainer


def _as_input(features: torch.Tensor) -> torch.Tensor:
    return features.detach().to(torch.float32)
