"""Plain data the chain interface returns: metagraph arrays, axon endpoints, hyperparameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RAO_PER_TAO = 1_000_000_000
U16_MAX = 65535


@dataclass(frozen=True)
class AxonInfo:
    ip: str          # dotted IPv4 (or IPv6 text)
    port: int
    protocol: int = 4
    version: int = 0

    @property
    def serving(self) -> bool:
        return self.port != 0 and self.ip not in ("", "0.0.0.0")


@dataclass
class Hyperparameters:
    """Subnet hyperparameters in the chain's own units (u16 ratios kept as raw u16)."""
    tempo: int = 360
    min_allowed_weights: int = 1
    max_weight_limit: int = U16_MAX          # u16: max share of one weight after normalisation
    weights_rate_limit: int = 100            # blocks between set_weights of one hotkey
    weights_version: int = 0                 # minimum version_key accepted
    commit_reveal_enabled: bool = False
    commit_reveal_period: int = 1            # tempos between commit and reveal
    activity_cutoff: int = 5000
    immunity_period: int = 4096
    max_allowed_uids: int = 256
    max_allowed_validators: int = 128
    min_allowed_stake: int = 0               # rao a caller needs to count as a validator (stake_threshold)
    kappa: int = 32767
    bonds_moving_average: int = 900_000
    burn: int = RAO_PER_TAO                  # rao burned by burned_register
    registration_allowed: bool = True
    max_registrations_per_block: int = 1
    target_registrations_per_interval: int = 2
    serving_rate_limit: int = 50
    # the epoch's rules on dTAO runtimes (older runtimes lack them and keep these defaults)
    bonds_penalty: int = U16_MAX             # u16: 0 = bonds from unclipped weights, 65535 = from clipped
    yuma3: bool = False
    liquid_alpha: bool = False
    alpha_sigmoid_steepness: int = 1000

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @staticmethod
    def check(name: str, value: int) -> None:
        """ValueError unless `value` fits field `name`: its chain type's range (u16 for ratios and
        counts, i16 steepness, u64 else) and, for bonds_moving_average, the epoch's (at most 1e6)."""
        top = _MAX.get(name, 2**64 - 1)
        if not 0 <= value <= top:
            raise ValueError(f"{name} must be in [0, {top}], got {value}")


_MAX = {**dict.fromkeys(("tempo", "min_allowed_weights", "max_weight_limit", "activity_cutoff", "immunity_period",
                         "max_allowed_uids", "max_allowed_validators", "kappa", "max_registrations_per_block",
                         "target_registrations_per_interval", "bonds_penalty"), U16_MAX),
        "bonds_moving_average": 1_000_000, "alpha_sigmoid_steepness": 2**15 - 1}


@dataclass
class Metagraph:
    """One subnet's state at `block`, as arrays indexed by uid (n = number of uids)."""
    netuid: int
    block: int
    uids: np.ndarray                 # (n,) int64
    hotkeys: list[str]               # (n,) ss58
    coldkeys: list[str]              # (n,) ss58
    stake: np.ndarray                # (n,) float64 TAO
    consensus: np.ndarray            # (n,) float64 in [0, 1] (stored u16 / 65535)
    incentive: np.ndarray
    dividends: np.ndarray
    validator_trust: np.ndarray
    validator_permit: np.ndarray     # (n,) bool
    emission: np.ndarray             # (n,) float64 TAO per epoch
    last_update: np.ndarray          # (n,) int64 block
    block_at_registration: np.ndarray  # (n,) int64 block
    axons: list[AxonInfo | None]     # (n,)
    weights: np.ndarray              # (n, n) float64, row i = weights set by uid i, raw u16 values
    bonds: np.ndarray                # (n, n) float64, raw u16 values
    extra: dict = field(default_factory=dict)  # backend-specific arrays (e.g. spec148 trust, rank)

    @property
    def n(self) -> int:
        return len(self.uids)

    def uid_of(self, hotkey: str) -> int | None:
        try:
            return self.hotkeys.index(hotkey)
        except ValueError:
            return None
