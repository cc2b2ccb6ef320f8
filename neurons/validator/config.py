"""Typed settings of the validator's gate, routing and scoring (nest them in the neuron config)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class GateConfig(BaseModel):
    hidden: int = Field(64, ge=1, description="width of the gate's hidden layer")
    lr: float = Field(1e-2, gt=0, description="Adam learning rate of the online gate")
    top_k: int = Field(4, ge=1, description="miners picked by the gate per step")
    explore: int = Field(2, ge=0, description="extra serving miners picked uniformly at random per step")
    noise_std: float = Field(0.1, ge=0, description="std of the noise added to the gate's logits before top-k")
    balance_weight: float = Field(0.01, ge=0, description="weight of the KL(routing || uniform) load-balancing term")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient-norm clip of one gate update")


class ScoringConfig(BaseModel):
    method: Literal["loo", "shapley"] = Field("loo", description="leave-one-out or sampled Shapley")
    permutations: int = Field(8, ge=1, description="sampled permutations per step (shapley only)")
    ema_alpha: float = Field(0.1, gt=0, le=1, description="weight of a new step's score in the per-uid EMA")


class MoEConfig(BaseModel):
    gate: GateConfig = GateConfig()
    scoring: ScoringConfig = ScoringConfig()
