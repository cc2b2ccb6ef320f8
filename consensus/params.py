"""Yuma hyperparameters (chain defaults) and the rule variant."""
from __future__ import annotations

import math
from dataclasses import dataclass

VARIANTS = ("current", "spec148", "spec293")
U16_MAX = 65535


@dataclass(frozen=True)
class YumaParams:
    """Epoch hyperparameters. Ratios are floats in [0, 1] (the chain stores them as u16/65535).

    Defaults are the runtime's initial values (SPEC.md section 1).
    """

    kappa: float = 32767 / U16_MAX
    bonds_penalty: float = 1.0
    bonds_moving_average: float = 900_000.0  # EMA alpha = 1 - bonds_moving_average / 1e6
    yuma3: bool = False
    liquid_alpha: bool = False
    alpha_low: float = 45875 / U16_MAX
    alpha_high: float = 58982 / U16_MAX
    alpha_sigmoid_steepness: float = 1000.0  # chain units; the sigmoid uses steepness / 100
    max_allowed_validators: int = 128
    stake_threshold: float = 0.0
    quantize_bonds: bool = False  # emulate the chain's u16 bond storage
    # "current" (today's chain), "spec148" (May-2024 runtime) or "spec293" (July-2025 dTAO runtime: current's
    # rules without the owner's permit and threshold exemptions, plus spec148's Trust and PruningScores)
    variant: str = "current"
    la_sparse_drop: bool = True  # liquid alpha: reset bonds whose W_b entry is 0, as the sparse chain path does
    fixed_point: bool = False  # spec148/spec293 only: the runtime's I32F32 arithmetic (inputs in rao and u16)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant: must be one of {VARIANTS}, got {self.variant!r}")
        for name in ("kappa", "bonds_penalty", "alpha_low", "alpha_high"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name}: must be a number in [0, 1], got {v!r}")
        if not 0.0 <= self.bonds_moving_average <= 1e6:
            raise ValueError(f"bonds_moving_average: must be in [0, 1e6], got {self.bonds_moving_average!r}")
        if self.alpha_low > self.alpha_high:
            raise ValueError(f"alpha_low: {self.alpha_low} exceeds alpha_high {self.alpha_high}")
        if not math.isfinite(self.alpha_sigmoid_steepness):
            raise ValueError("alpha_sigmoid_steepness: must be finite")
        if int(self.max_allowed_validators) != self.max_allowed_validators or self.max_allowed_validators < 0:
            raise ValueError(f"max_allowed_validators: must be a non-negative integer, got {self.max_allowed_validators!r}")
        if not (self.stake_threshold >= 0.0 and math.isfinite(self.stake_threshold)):
            raise ValueError(f"stake_threshold: must be finite and >= 0, got {self.stake_threshold!r}")
        if self.fixed_point and self.variant not in ("spec148", "spec293"):
            raise ValueError("fixed_point: implemented for variant='spec148' and 'spec293' only")
        if self.fixed_point and self.liquid_alpha:
            raise ValueError("fixed_point: liquid alpha is not implemented in fixed point")
        if self.variant == "spec148" and (self.yuma3 or self.liquid_alpha):
            raise ValueError("variant: spec148 has neither Yuma3 nor liquid alpha; set yuma3=False, liquid_alpha=False")

    @property
    def ema_alpha(self) -> float:
        """Weight of the new bonds in the EMA (0.1 by default)."""
        return 1.0 - self.bonds_moving_average / 1e6

    @property
    def effective_bonds_penalty(self) -> float:
        """spec148 has no bonds_penalty: W_b is the clipped W (penalty 1)."""
        return 1.0 if self.variant == "spec148" else float(self.bonds_penalty)
