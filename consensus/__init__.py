"""Yuma consensus: one chain-faithful epoch as a pure function, u16 storage helpers, a simulator.

    from consensus import YumaParams, EpochInput, EpochResult, run_epoch
"""
from .epoch import run_epoch
from .inputs import EpochInput
from .params import YumaParams
from .result import EpochResult
from .storage import emission_amounts, stored_u16, to_u16

__all__ = ["YumaParams", "EpochInput", "EpochResult", "run_epoch", "to_u16", "stored_u16", "emission_amounts"]
