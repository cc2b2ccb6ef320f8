"""Find subnets by name: package entry points in the "opensubnet.subnets" group.

A third-party subnet installs like a plugin by declaring, in its pyproject.toml,
    [project.entry-points."opensubnet.subnets"]
    my-subnet = "my_package.my_subnet:MySubnet"
The built-ins are registered the same way; BUILTINS is the fallback for a source checkout that
was never pip-installed. Anything else may be loaded by an explicit "module:Class" reference.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from subnets.spec import SubnetSpec

GROUP = "opensubnet.subnets"
BUILTINS = {
    "text-embedding": "subnets.text_embedding:TextEmbedding",
    "text-next-token": "subnets.text_next_token:TextNextToken",
}


class UnknownSubnet(LookupError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"no subnet named {name!r} (known: {', '.join(known) or 'none'})")
        self.hint = (f"run `neuron subnet list`, install the package that provides {name!r}, "
                     "or pass a 'module:Class' reference")


class BadSubnet(TypeError):
    """A reference that does not resolve to a SubnetSpec subclass."""


def available() -> dict[str, str]:
    """Registered subnets: name -> "module:Class" (entry points override the built-in fallback)."""
    found = dict(BUILTINS)
    found.update({ep.name: ep.value for ep in entry_points(group=GROUP)})
    return dict(sorted(found.items()))


def load_class(ref: str) -> type[SubnetSpec]:
    """Import "module:Class" and check that it is a SubnetSpec."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise BadSubnet(f"{ref!r} is not a 'module:Class' reference")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise BadSubnet(f"cannot load {ref!r}: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, SubnetSpec)):
        raise BadSubnet(f"{ref!r} is not a SubnetSpec subclass")
    return cls


def load_file(path: str | Path) -> type[SubnetSpec]:
    """The one SubnetSpec subclass defined in a Python file (e.g. one made by `neuron subnet new`)."""
    path = Path(path)
    if not path.is_file():
        raise BadSubnet(f"{path} is not a file")
    mod_name = f"_opensubnet_file_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[mod_name]
        raise BadSubnet(f"cannot import {path}: {type(e).__name__}: {e}") from e
    found = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, SubnetSpec) and c is not SubnetSpec and c.__module__ == mod_name]
    if len(found) != 1:
        raise BadSubnet(f"{path} defines {len(found)} SubnetSpec subclasses; expected exactly one")
    return found[0]


def get(name: str) -> SubnetSpec:
    """An instance of the subnet registered as `name`, or given as "module:Class" or a .py path."""
    known = available()
    if name in known:
        return load_class(known[name])()
    if name.endswith(".py"):
        return load_file(name)()
    if ":" in name:
        return load_class(name)()
    raise UnknownSubnet(name, list(known))
