"""Incentive specs: the subnet API (spec.py), the registry, and the built-in subnets."""
__all__ = ["Challenge", "SpecError", "SubnetSpec", "TensorSpec", "available", "get"]


def __getattr__(name: str):
    """The names above on first use: the spec and registry load torch, which `neuron subnet create`
    (this package's CLI) and commands like `neuron transfer` never need (they start a second faster)."""
    if name in ("available", "get"):
        from subnets import registry
        return getattr(registry, name)
    if name in __all__:
        from subnets import spec
        return getattr(spec, name)
    raise AttributeError(f"module 'subnets' has no attribute {name!r}")
