"""EpochResult: everything one epoch computes, as float64 numpy arrays over the uid space."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EpochResult:
    consensus: np.ndarray  # (n,) stake-weighted kappa-quantile of each column
    incentive: np.ndarray  # (n,) normalised ranks
    dividends: np.ndarray  # (n,)
    validator_trust: np.ndarray  # (n,) row sums of clipped weights
    ranks: np.ndarray  # (n,) active_stake @ clipped weights (before normalisation)
    active_stake: np.ndarray  # (n,)
    stake_normalized: np.ndarray  # (n,)
    new_validator_permit: np.ndarray  # (n,) bool: store it and pass it to the next epoch
    bonds: np.ndarray  # (n, n) stored bonds: feed to the next epoch
    bonds_ema_normalized: np.ndarray  # (n, n) column-normalised bonds the dividends came from
    server_share: np.ndarray  # (n,)
    validator_share: np.ndarray  # (n,)
    combined_share: np.ndarray  # (n,)
    trust: np.ndarray | None = None  # (n,) spec148 only: ranks / preranks
    pruning_scores: np.ndarray | None = None  # (n,) spec148 only: max-upscaled combined share
    u16: dict | None = None  # fixed_point only: the exact u16 values the runtime stores (see stored_u16)
