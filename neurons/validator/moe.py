"""The validator's mixture of experts: route a challenge, learn from the answers, keep per-uid scores."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from neurons.validator.config import MoEConfig
from neurons.validator.contract import MixtureSpec, Output, valid_output
from neurons.validator.ema import ema_update, resize_scores, weights_from_scores
from neurons.validator.routing import Route
from neurons.validator.scoring import score
from neurons.validator.training import GateTrainer


@dataclass
class StepResult:
    uids: torch.Tensor      # [k] queried uids
    ok: torch.Tensor        # [k] bool: answered with a valid output
    weights: torch.Tensor   # [batch, k] mixture weights used (0 where not ok)
    scores: torch.Tensor    # [k] this step's contribution scores (>= 0; 0 for failures)
    measured: torch.Tensor  # [k] bool: the score entered the EMA
    loss: float             # mean subnet loss of the mixture (nan if nobody answered)
    balance: float          # the gate's load-balancing term (nan if nobody answered)
    updated: bool           # the gate took an optimizer step


class NoAnswersError(RuntimeError):
    """None of the routed miners gave a valid answer, so there is no mixture to return."""


class MoE:
    """Gate + optimizer + score EMA over the uid space of one metagraph (index = uid)."""

    def __init__(self, d_feat: int, hotkeys: Sequence[str], config: MoEConfig | None = None, seed: int = 0):
        self.config = config or MoEConfig()
        self.hotkeys = list(hotkeys)
        self.trainer = GateTrainer(d_feat, len(self.hotkeys), self.config.gate, seed)
        self.scores = torch.zeros(len(self.hotkeys))  # [n_uids] EMA of contribution scores

    @property
    def n_uids(self) -> int:
        return len(self.hotkeys)

    def sync(self, hotkeys: Sequence[str]) -> list[int]:
        """Follow the metagraph: resize to its uid count, reset uids whose hotkey changed; returns them."""
        hotkeys = list(hotkeys)
        reset = [u for u, (a, b) in enumerate(zip(self.hotkeys, hotkeys)) if a != b]
        if len(hotkeys) != self.n_uids:
            self.trainer.resize(len(hotkeys))
        self.trainer.reset_uids(reset)
        self.scores = resize_scores(self.scores, len(hotkeys), reset)
        self.hotkeys = hotkeys
        return reset

    def select(self, features: torch.Tensor, serving: torch.Tensor, explore: bool = True) -> Route:
        """Which uids to query for this batch (features [batch, d_feat], serving [n_uids] bool).

        explore=False gives the gate's plain top-k, for answering applications."""
        return self.trainer.route(features, serving, explore)

    @torch.no_grad()
    def mix(self, spec: MixtureSpec, features: torch.Tensor, route: Route,
            outputs: Sequence[Output | None]) -> tuple[Any, torch.Tensor]:
        """Inference only: (mixture of the valid answers, weights [batch, k]); no training, no scores."""
        ok = _valid_mask(outputs)
        if not bool(ok.any()):
            raise NoAnswersError(f"none of the {len(outputs)} routed miners answered validly")
        _, weights = self.trainer.mixture_weights(features, route.uids, ok)
        idx = ok.nonzero().flatten().tolist()
        return spec.combine([outputs[i] for i in idx], weights[:, idx]), weights

    def learn(
        self, spec: MixtureSpec, challenge: Any, features: torch.Tensor, route: Route,
        outputs: Sequence[Output | None],
    ) -> StepResult:
        """Mix the answers of `route.uids` (None = failed), train the gate, score and update the EMA."""
        if len(outputs) != len(route):
            raise ValueError(f"{len(outputs)} outputs for {len(route)} routed uids")
        if route.serving.numel() != self.n_uids:
            raise ValueError("the metagraph changed between select and learn: call sync() between steps")
        ok = _valid_mask(outputs)
        outputs = [o if good else None for o, good in zip(outputs, ok.tolist())]
        if len(route) == 0:
            empty = torch.zeros(0)
            return StepResult(route.uids, ok, torch.zeros(features.shape[0], 0), empty, ok, math.nan, math.nan, False)
        step = self.trainer.train_step(spec, challenge, features, route.uids, ok, outputs, route.serving)
        scores, measured = score(
            spec, challenge, outputs, ok, step.weights, self.config.scoring, self.trainer.generator
        )
        self.scores = ema_update(
            self.scores, route.uids[measured], scores[measured], self.config.scoring.ema_alpha
        )
        return StepResult(route.uids, ok, step.weights, scores, measured, step.loss, step.balance, step.updated)

    def weights(self) -> torch.Tensor:
        """[n_uids] float64 weights for set_weights (sum 1, or all 0 before anyone scored)."""
        return weights_from_scores(self.scores)

    def state_dict(self) -> dict:
        return {"hotkeys": list(self.hotkeys), "scores": self.scores.clone(), **self.trainer.state_dict()}

    @classmethod
    def from_state_dict(cls, state: dict, config: MoEConfig | None = None) -> "MoE":
        check_state_dict(state)
        config = config or MoEConfig()
        moe = cls.__new__(cls)
        moe.config = config
        moe.hotkeys = list(state["hotkeys"])
        moe.trainer = GateTrainer.from_state_dict(state, config.gate)
        moe.scores = state["scores"].clone().float()
        return moe


def _valid_mask(outputs: Sequence[Output | None]) -> torch.Tensor:
    return torch.tensor([valid_output(o) for o in outputs], dtype=torch.bool)  # [k]


def check_state_dict(state: object) -> None:
    """Raise ValueError unless `state` is a consistent MoE state (as loaded from disk)."""
    if not isinstance(state, dict):
        raise ValueError(f"MoE state is a {type(state).__name__}, expected a dict")
    missing = {"hotkeys", "scores", "gate_config", "gate", "optimizer", "rng"} - state.keys()
    if missing:
        raise ValueError(f"MoE state lacks {sorted(missing)}")
    hotkeys, scores, cfg, gate = state["hotkeys"], state["scores"], state["gate_config"], state["gate"]
    if not isinstance(hotkeys, list) or not all(isinstance(h, str) for h in hotkeys):
        raise ValueError("hotkeys must be a list of str")
    n = len(hotkeys)
    if not (torch.is_tensor(scores) and scores.shape == (n,) and scores.is_floating_point()):
        raise ValueError(f"scores must be a float tensor of shape [{n}]")
    if not bool(torch.isfinite(scores).all()) or bool((scores < 0).any()):
        raise ValueError("scores must be finite and non-negative")
    if not isinstance(cfg, dict) or not all(
        isinstance(cfg.get(k), int) and cfg[k] >= 1 for k in ("d_feat", "n_uids", "hidden")
    ):
        raise ValueError("gate_config must hold positive int d_feat, n_uids, hidden")
    if cfg["n_uids"] != n:
        raise ValueError(f"gate has {cfg['n_uids']} uid rows but {n} hotkeys are recorded")
    expect = {
        "trunk.0.weight": (cfg["hidden"], cfg["d_feat"]), "trunk.0.bias": (cfg["hidden"],),
        "head.weight": (n, cfg["hidden"]), "head.bias": (n,),
    }
    if not isinstance(gate, dict) or {k: tuple(v.shape) for k, v in gate.items() if torch.is_tensor(v)} != expect:
        raise ValueError(f"gate parameters do not match the shapes {expect}")
    if not all(bool(torch.isfinite(v).all()) for v in gate.values()):
        raise ValueError("gate parameters must be finite")
    opt = state["optimizer"]
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict) or not isinstance(opt.get("param_groups"), list):
        raise ValueError("optimizer state must be a dict with 'state' and 'param_groups'")
    shapes = list(expect.values())  # the gate's parameters() order
    for idx, moments in opt["state"].items():
        if not (isinstance(idx, int) and 0 <= idx < len(shapes) and isinstance(moments, dict)):
            raise ValueError(f"optimizer state has an unknown parameter index {idx!r}")
        for name, t in moments.items():
            if torch.is_tensor(t) and t.dim() > 0 and tuple(t.shape) != shapes[idx]:
                raise ValueError(f"optimizer {name} of parameter {idx} has shape {list(t.shape)}, expected {list(shapes[idx])}")
    rng, expect_rng = state["rng"], torch.Generator().get_state()
    if not (torch.is_tensor(rng) and rng.dtype == torch.uint8 and rng.shape == expect_rng.shape):
        raise ValueError(f"rng must be a uint8 tensor of shape {list(expect_rng.shape)}")
