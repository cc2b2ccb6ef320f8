"""Subnet hyperparameters: which storage item holds each `Hyperparameters` field and which
AdminUtils call sets it. Items a runtime lacks keep their default (read) or raise UnsupportedError (set).
"""
from __future__ import annotations

from dataclasses import fields

from chain.errors import UnsupportedError
from chain.subtensor.runtime import RuntimeShape
from chain.types import Hyperparameters

# field -> (storage candidates, AdminUtils call candidates); "*" marks a global (not per-subnet) item
_TABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tempo": (("Tempo",), ("sudo_set_tempo",)),
    "min_allowed_weights": (("MinAllowedWeights",), ("sudo_set_min_allowed_weights",)),
    "max_weight_limit": (("MaxWeightsLimit",), ("sudo_set_max_weight_limit",)),
    "weights_rate_limit": (("WeightsSetRateLimit",), ("sudo_set_weights_set_rate_limit",)),
    "weights_version": (("WeightsVersionKey",), ("sudo_set_weights_version_key",)),
    "commit_reveal_enabled": (("CommitRevealWeightsEnabled",), ("sudo_set_commit_reveal_weights_enabled",)),
    "commit_reveal_period": (("RevealPeriodEpochs",), ("sudo_set_commit_reveal_weights_interval",)),
    "activity_cutoff": (("ActivityCutoff",), ("sudo_set_activity_cutoff",)),
    "immunity_period": (("ImmunityPeriod",), ("sudo_set_immunity_period",)),
    "max_allowed_uids": (("MaxAllowedUids",), ("sudo_set_max_allowed_uids",)),
    "max_allowed_validators": (("MaxAllowedValidators",), ("sudo_set_max_allowed_validators",)),
    "min_allowed_stake": (("*StakeThreshold", "*WeightsMinStake"), ("sudo_set_stake_threshold", "sudo_set_weights_min_stake")),
    "kappa": (("Kappa",), ("sudo_set_kappa",)),
    "bonds_moving_average": (("BondsMovingAverage",), ("sudo_set_bonds_moving_average",)),
    "burn": (("Burn",), ()),
    "registration_allowed": (("NetworkRegistrationAllowed",), ("sudo_set_network_registration_allowed",)),
    "max_registrations_per_block": (("MaxRegistrationsPerBlock",), ("sudo_set_max_registrations_per_block",)),
    "target_registrations_per_interval": (("TargetRegistrationsPerInterval",), ("sudo_set_target_registrations_per_interval",)),
    "serving_rate_limit": (("ServingRateLimit",), ("sudo_set_serving_rate_limit",)),
    "bonds_penalty": (("BondsPenalty",), ("sudo_set_bonds_penalty",)),
    "yuma3": (("Yuma3On",), ("sudo_set_yuma3_enabled",)),
    "liquid_alpha": (("LiquidAlphaOn",), ("sudo_set_liquid_alpha_enabled",)),
    "alpha_sigmoid_steepness": (("AlphaSigmoidSteepness",), ("sudo_set_alpha_sigmoid_steepness",)),
}
assert set(_TABLE) == {f.name for f in fields(Hyperparameters)}, "hyperparameter table out of date"


def storage_items(shape: RuntimeShape, netuid: int) -> dict[str, tuple[str, list]]:
    """field -> (storage item, params) for every field this runtime stores."""
    out = {}
    for name, (items, _) in _TABLE.items():
        for item in items:
            is_global = item.startswith("*")
            item = item.lstrip("*")
            if shape.has_storage("SubtensorModule", item):
                out[name] = (item, [] if is_global else [netuid])
                break
    return out


def from_values(values: dict[str, object]) -> Hyperparameters:
    """Build Hyperparameters from raw storage values (missing fields keep their defaults)."""
    hp = Hyperparameters()
    for name, value in values.items():
        if value is not None:
            default = getattr(hp, name)
            setattr(hp, name, bool(value) if isinstance(default, bool) else int(value))
    return hp


def setter(shape: RuntimeShape, netuid: int, name: str, value: int | bool) -> tuple[str, dict]:
    """(AdminUtils call, params) that sets field `name` on this runtime."""
    if name not in _TABLE:
        raise ValueError(f"unknown hyperparameter {name!r}; known: {', '.join(sorted(_TABLE))}")
    for call in _TABLE[name][1]:
        arg_names = shape.call_fields("AdminUtils", call)
        if arg_names is None:
            continue
        values = [a for a in arg_names if a != "netuid"]
        params = {values[0]: value} if values else {}
        if "netuid" in arg_names:
            params["netuid"] = netuid
        return call, params
    raise UnsupportedError(f"runtime spec {shape.spec_version} has no call that sets {name!r}",
                           hint="this hyperparameter is read-only on this runtime")
