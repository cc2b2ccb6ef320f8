"""Subnets by name, through the `opensubnet.subnets` entry-point group (neurons never imports one)."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

GROUP = "opensubnet.subnets"


class SubnetNotFound(LookupError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"no subnet named {name!r} (installed: {', '.join(known) or 'none'})")
        self.hint = "run `neuron subnet list`, or `pip install -e .` so the built-in subnets are registered"


def load_subnet(name: str):
    """An instance of the subnet spec registered as `name` (or given as 'module:Class')."""
    if ":" in name:
        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr)()
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in eps:
        raise SubnetNotFound(name, sorted(eps))
    return eps[name].load()()
