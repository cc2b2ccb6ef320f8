"""Find subnets by name, "module:Class" or .py file: the subnets' side of neurons.plugins, the one resolver.

A third-party subnet installs like a plugin by declaring, in its pyproject.toml,
    [project.entry-points."opensubnet.subnets"]
    my-subnet = "my_package.my_subnet:MySubnet"
Here a spec must also be a SubnetSpec (the `neuron subnet` commands use its describe() and checks).
"""
from __future__ import annotations

from pathlib import Path

from neurons import plugins
from neurons.plugins import GROUP, BadSubnet, ContractError, SubnetNotFound, available
from subnets.spec import SubnetSpec

__all__ = ["GROUP", "BadSubnet", "ContractError", "SubnetNotFound", "available", "load_class", "load_file", "get"]


def _spec_class(cls: type, ref: str) -> type[SubnetSpec]:
    if not issubclass(cls, SubnetSpec):
        raise BadSubnet(f"{ref!r} is not a SubnetSpec subclass")
    return cls


def load_class(ref: str) -> type[SubnetSpec]:
    """Import "module:Class" and check that it is a SubnetSpec."""
    return _spec_class(plugins.load_class(ref), ref)


def load_file(path: str | Path) -> type[SubnetSpec]:
    """The one SubnetSpec subclass defined in a Python file (e.g. one made by `neuron subnet new`)."""
    return _spec_class(plugins.load_file(path), str(path))


def get(ref: str) -> SubnetSpec:
    """An instance of the subnet registered as `ref`, or given as "module:Class" or a .py path."""
    return plugins.load_subnet(ref, base=SubnetSpec)
