"""The validator's mixture of experts: route a challenge, learn from the answers, keep per-uid scores."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from neurons.config.schema import NeuronConfig
from neurons.validator.contract import MixtureSpec, Output, valid_output
from neurons.validator.ema import ScoreStats, ema_update, lower_bound, resize_scores, weights_from_scores
from neurons.validator.routing import Route
from neurons.validator.scoring import score
from neurons.validator.training import GateTrainer


@dataclass
class StepResult:
    uids: torch.Tensor      # [k] queried uids
    rows: torch.Tensor      # [batch, k] bool: the rows each was sent
    explored: torch.Tensor  # [k] bool: picked by exploration (sent every row), not by any row's top-k
    ok: torch.Tensor        # [k] bool: answered with a valid output
    weights: torch.Tensor   # [batch, k] mixture weights used (0 where not ok or not routed)
    scores: torch.Tensor    # [k] this step's mean contribution (signed; 0 for failures)
    measured: torch.Tensor  # [k] bool: the score entered the EMA
    loss: float             # mean subnet loss of the mixture (nan if nobody answered)
    balance: float          # the gate's load-balancing term (nan if nobody answered)
    updated: bool           # the gate took an optimizer step


class NoAnswersError(RuntimeError):
    """None of the routed miners gave a valid answer, so there is no mixture to return."""


class MoE:
    """Gate + optimizer + score EMA over the uid space of one metagraph (index = uid)."""

    def __init__(self, d_feat: int, hotkeys: Sequence[str], config: NeuronConfig | None = None, seed: int = 0):
        self.config = config or NeuronConfig()  # reads its [gate] and [scoring] sections
        self.hotkeys = list(hotkeys)
        self.trainer = GateTrainer(d_feat, len(self.hotkeys), self.config.gate, seed)
        self.stats = ScoreStats.zeros(len(self.hotkeys))  # per-uid EMAs of contribution and its spread

    @property
    def scores(self) -> torch.Tensor:
        """[n_uids] EMA of each uid's mean contribution (signed)."""
        return self.stats.mean

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
        self.stats = resize_scores(self.stats, len(hotkeys), reset)
        self.hotkeys = hotkeys
        return reset

    def select(self, features: torch.Tensor, serving: torch.Tensor, explore: bool = True) -> Route:
        """Which uids answer which rows of this batch (features [batch, d_feat], serving [n_uids] bool).

        explore=False gives each row the gate's plain top-k, for answering applications."""
        return self.trainer.route(features, serving, explore)

    @torch.no_grad()
    def mix(self, spec: MixtureSpec, features: torch.Tensor, route: Route,
            outputs: Sequence[Output | None]) -> tuple[Any, torch.Tensor]:
        """Inference only: (mixture of the valid answers, weights [batch, k]); no training, no scores.

        `outputs` are placed in the full batch; every row needs a valid answer from a miner routed to it."""
        ok = _valid_mask(outputs)
        if not bool(ok.any()):
            raise NoAnswersError(f"none of the {len(outputs)} routed miners answered validly")
        mask = route.rows & ok.unsqueeze(0)                                  # [batch, k]
        if missing := (~mask.any(1)).nonzero().flatten().tolist():
            raise NoAnswersError(f"rows {missing[:8]} got no valid answer from the miners routed to them")
        _, weights = self.trainer.mixture_weights(features, route.uids, mask)
        idx = ok.nonzero().flatten().tolist()
        return spec.combine([outputs[i] for i in idx], weights[:, idx]), weights

    def learn(
        self, spec: MixtureSpec, challenge: Any, features: torch.Tensor, route: Route,
        outputs: Sequence[Output | None],
    ) -> StepResult:
        """Mix the answers of `route.uids` (None = failed; others placed in the full batch), train the
        gate, score each miner on its rows and update the EMAs."""
        if len(outputs) != len(route):
            raise ValueError(f"{len(outputs)} outputs for {len(route)} routed uids")
        if route.serving.numel() != self.n_uids:
            raise ValueError("the metagraph changed between select and learn: call sync() between steps")
        ok = _valid_mask(outputs)
        outputs = [o if good else None for o, good in zip(outputs, ok.tolist())]
        if len(route) == 0:
            empty = torch.zeros(0)
            return StepResult(route.uids, route.rows, route.explored, ok, torch.zeros(features.shape[0], 0),
                              empty, ok, math.nan, math.nan, False)
        step = self.trainer.train_step(spec, challenge, features, route, ok, outputs)
        scores, se2, measured = score(spec, challenge, outputs, ok, step.weights, self.config.scoring,
                                      self.trainer.generator, route.rows)
        self.stats = ema_update(self.stats, route.uids[measured], scores[measured], se2[measured],
                                self.config.scoring.ema_alpha)
        return StepResult(route.uids, route.rows, route.explored, ok, step.weights, scores, measured,
                          step.loss, step.balance, step.updated)

    def bounds(self) -> torch.Tensor:
        """[n_uids] lower confidence bound of each uid's contribution (what weights are made of)."""
        s = self.config.scoring
        return lower_bound(self.stats, s.ema_alpha, s.confidence_z)

    def weights(self) -> torch.Tensor:
        """[n_uids] float64 weights for set_weights (sum 1, or all 0 while no bound is positive)."""
        return weights_from_scores(self.bounds())

    def state_dict(self) -> dict:
        return {"hotkeys": list(self.hotkeys), **self.stats.tensors(), **self.trainer.state_dict()}

    @classmethod
    def from_state_dict(cls, state: dict, config: NeuronConfig | None = None) -> "MoE":
        check_state_dict(state)
        config = config or NeuronConfig()
        moe = cls.__new__(cls)
        moe.config = config
        moe.hotkeys = list(state["hotkeys"])
        moe.trainer = GateTrainer.from_state_dict(state, config.gate)
        n = len(moe.hotkeys)
        moe.stats = ScoreStats(*(state.get(k, torch.zeros(n)).clone().float()
                                 for k in ("scores", "score_sq", "score_within")))
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
    hotkeys, cfg, gate = state["hotkeys"], state["gate_config"], state["gate"]
    if not isinstance(hotkeys, list) or not all(isinstance(h, str) for h in hotkeys):
        raise ValueError("hotkeys must be a list of str")
    n = len(hotkeys)
    for key in ("scores", "score_sq", "score_within"):  # the last two are absent in states saved before them
        t = state.get(key, torch.zeros(n))
        if not (torch.is_tensor(t) and t.shape == (n,) and t.is_floating_point()):
            raise ValueError(f"{key} must be a float tensor of shape [{n}]")
        if not bool(torch.isfinite(t).all()) or (key != "scores" and bool((t < 0).any())):
            raise ValueError(f"{key} must be finite" + ("" if key == "scores" else " and non-negative"))
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
