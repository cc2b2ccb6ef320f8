"""Incentive specs: the subnet API (spec.py), the registry, and the built-in subnets."""
from subnets.registry import available, get
from subnets.spec import Challenge, SpecError, SubnetSpec, TensorSpec

__all__ = ["Challenge", "SpecError", "SubnetSpec", "TensorSpec", "available", "get"]
