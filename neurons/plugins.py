"""The one subnet resolver: every command (and subnets.registry) turns a reference into a spec here.

A reference is one of
  - a registered name: an entry point of the `opensubnet.subnets` group, e.g. in a plugin's pyproject.toml
        [project.entry-points."opensubnet.subnets"]
        my-subnet = "my_package.my_subnet:MySubnet"
    (the built-ins are registered the same way; BUILTINS is the fallback for a checkout never pip-installed)
  - "module:Class", importable from the current environment
  - a path to a .py file that defines exactly one spec class (e.g. one made by `neuron subnet new`)

`load_subnet(ref)` returns an instance checked against the contract of neurons/validator/contract.py.
Neurons reach subnets only through this module, and never import `subnets` by name.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path

from neurons.validator.contract import BadSubnet, ContractError, check_contract, contract_problems

GROUP = "opensubnet.subnets"
BUILTINS = {
    "text-embedding": "subnets.text_embedding:TextEmbedding",
    "text-next-token": "subnets.text_next_token:TextNextToken",
}

__all__ = ["GROUP", "BUILTINS", "SubnetNotFound", "BadSubnet", "ContractError", "available", "load_class",
           "load_file", "resolve_class", "load_subnet", "check_contract", "contract_problems"]


class SubnetNotFound(LookupError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"no subnet named {name!r} (known: {', '.join(known) or 'none'})")
        self.hint = (f"run `neuron subnet list`, install the package that provides {name!r}, "
                     "or pass a 'module:Class' reference or a .py file")


def available() -> dict[str, str]:
    """Registered subnets: name -> "module:Class" (entry points override the built-in fallback)."""
    found = dict(BUILTINS)
    found.update({ep.name: ep.value for ep in entry_points(group=GROUP)})
    return dict(sorted(found.items()))


def load_class(ref: str) -> type:
    """Import "module:Class"; BadSubnet unless it names a class."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise BadSubnet(f"{ref!r} is not a 'module:Class' reference")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except Exception as e:  # noqa: BLE001 - ImportError, AttributeError, or any error in the module's own code
        raise BadSubnet(f"cannot load {ref!r}: {type(e).__name__}: {e}") from e
    if not isinstance(cls, type):
        raise BadSubnet(f"{ref!r} is a {type(cls).__name__}, not a subnet spec class")
    return cls


def load_file(path: str | Path) -> type:
    """The one spec class (a class meeting SubnetContract) defined in a Python file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadSubnet(f"subnet file {path} not found")
    # one module name per file (two my_subnet.py in different directories must not collide)
    mod_name = f"_opensubnet_file_{path.stem}_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise BadSubnet(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - any error in user code is the file's problem, said in one line
        del sys.modules[mod_name]
        raise BadSubnet(f"cannot import {path}: {type(e).__name__}: {e}") from e
    defined = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == mod_name]
    problems = {c: contract_problems(c) for c in defined}
    found = [c for c in defined if not problems[c]]
    if len(found) == 1:
        return found[0]
    if not found and any(hasattr(c, "synapse") for c in defined):  # a spec class that falls short: say how
        closest = min((c for c in defined if hasattr(c, "synapse")), key=lambda c: len(problems[c]))
        raise ContractError(f"{path}: class {closest.__name__} is not a complete subnet spec: "
                            + "; ".join(problems[closest]))
    names = ", ".join(c.__name__ for c in found)
    raise BadSubnet(f"{path} defines {len(found)} subnet spec classes{f' ({names})' if names else ''}; "
                    "expected exactly one (a SubnetSpec subclass with every member set)")


def resolve_class(ref: str) -> type:
    """The spec class a reference names: a registered name, a .py path, or "module:Class"."""
    known = available()
    if ref in known:
        return load_class(known[ref])
    if ref.endswith(".py"):
        return load_file(ref)
    if ":" in ref:
        return load_class(ref)
    raise SubnetNotFound(ref, list(known))


def load_subnet(ref: str, *, base: type | None = None):
    """An instance of the spec `ref` names, checked against SubnetContract (ContractError if it falls short);
    with `base`, the class must also subclass it (BadSubnet)."""
    cls = resolve_class(ref)
    if base is not None and not issubclass(cls, base):
        raise BadSubnet(f"{ref!r} is not a {base.__name__} subclass")
    try:
        spec = cls()
    except Exception as e:  # noqa: BLE001 - a spec whose constructor fails is reported in one line
        raise BadSubnet(f"cannot create subnet {ref!r}: {type(e).__name__}: {e}") from e
    check_contract(spec, ref)
    return spec
