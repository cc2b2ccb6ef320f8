"""Simulator scenarios: plain data (TOML or YAML) describing validators, miners and weight changes.

The format is documented in docs/simulator.md. Built-in scenarios ship in consensus/scenarios/.
"""
from __future__ import annotations

import math
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .params import YumaParams

VERSIONS = {
    "yuma": {},
    "yuma3": {"yuma3": True},
    "yuma3-liquid": {"yuma3": True, "liquid_alpha": True},
    "spec148": {"variant": "spec148"},
}


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file and the field."""


@dataclass
class Change:
    epoch: int
    validators: list[str]
    weights: dict[str, float] | None = None  # miner name -> raw weight
    stake: float | None = None
    copy: bool | None = None


@dataclass
class Validator:
    name: str
    stake: float
    weights: dict[str, float] = field(default_factory=dict)
    copy: bool = False  # submits the previous epoch's consensus instead of its own weights


@dataclass
class Miner:
    name: str
    joins: int = 0  # first epoch the miner exists; weights on it before are dropped


@dataclass
class Scenario:
    name: str
    description: str
    epochs: int
    validators: list[Validator]
    miners: list[Miner]
    changes: list[Change]
    params: dict[str, Any]
    versions: list[str]

    def yuma_params(self, version: str) -> YumaParams:
        if version not in VERSIONS:
            raise ScenarioError(f"version {version!r}: choose from {', '.join(VERSIONS)}")
        return YumaParams(**{"max_allowed_validators": max(128, len(self.validators)),
                             **self.params, **VERSIONS[version]})


def _num(where: str, x: Any, lo: float = 0.0) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < lo:
        raise ScenarioError(f"{where}: expected a finite number >= {lo}, got {x!r}")
    return float(x)


def _int(where: str, x: Any, lo: int = 0) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < lo:
        raise ScenarioError(f"{where}: expected an integer >= {lo}, got {x!r}")
    return x


def _weights(where: str, x: Any, miners: set[str]) -> dict[str, float]:
    if not isinstance(x, dict):
        raise ScenarioError(f"{where}: expected a table of miner name -> weight, got {x!r}")
    unknown = set(x) - miners
    if unknown:
        raise ScenarioError(f"{where}: unknown miner(s) {sorted(unknown)}; declare them under 'miners'")
    return {k: _num(f"{where}.{k}", v) for k, v in x.items()}


def _names(where: str, x: Any) -> list[str]:
    if isinstance(x, str):
        return [x]
    if not isinstance(x, list) or not all(isinstance(v, str) for v in x):
        raise ScenarioError(f"{where}: expected a name or a list of names")
    return x


def parse(data: Any, source: str) -> Scenario:
    """Validate a scenario dict (from TOML or YAML) into a Scenario."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the top level must be a table/mapping")
    known = {"name", "description", "epochs", "validators", "miners", "changes", "params", "versions"}
    extra = set(data) - known
    if extra:
        raise ScenarioError(f"{source}: unknown key(s) {sorted(extra)}; allowed: {sorted(known)}")
    miners = []
    for i, m in enumerate(data.get("miners") or []):
        m = {"name": m} if isinstance(m, str) else m
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            raise ScenarioError(f"{source}: miners[{i}] needs a name")
        miners.append(Miner(m["name"], _int(f"{source}: miners[{i}].joins", m.get("joins", 0))))
    mnames = {m.name for m in miners}
    if not miners or len(mnames) != len(miners):
        raise ScenarioError(f"{source}: 'miners' must list at least one miner, names unique")
    validators = []
    for i, v in enumerate(data.get("validators") or []):
        where = f"{source}: validators[{i}]"
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            raise ScenarioError(f"{where} needs a name")
        validators.append(Validator(v["name"], _num(f"{where}.stake", v.get("stake")),
                                    _weights(f"{where}.weights", v.get("weights", {}), mnames),
                                    bool(v.get("copy", False))))
    vnames = {v.name for v in validators}
    if not validators or len(vnames) != len(validators) or vnames & mnames:
        raise ScenarioError(f"{source}: 'validators' must list at least one validator, names unique and distinct from miners")
    changes = []
    for i, c in enumerate(data.get("changes") or []):
        where = f"{source}: changes[{i}]"
        if not isinstance(c, dict):
            raise ScenarioError(f"{where}: expected a table")
        who = _names(f"{where}.validators", c.get("validators", c.get("validator")))
        if set(who) - vnames:
            raise ScenarioError(f"{where}: unknown validator(s) {sorted(set(who) - vnames)}")
        changes.append(Change(
            _int(f"{where}.epoch", c.get("epoch")), who,
            None if "weights" not in c else _weights(f"{where}.weights", c["weights"], mnames),
            None if "stake" not in c else _num(f"{where}.stake", c["stake"]),
            None if "copy" not in c else bool(c["copy"])))
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise ScenarioError(f"{source}: 'params' must be a table of YumaParams fields")
    sc = Scenario(
        name=str(data.get("name", Path(source).stem)), description=str(data.get("description", "")),
        epochs=_int(f"{source}: epochs", data.get("epochs", 30), 1), validators=validators, miners=miners,
        changes=sorted(changes, key=lambda c: c.epoch), params=params,
        versions=_names(f"{source}: versions", data.get("versions", ["yuma", "yuma3", "yuma3-liquid"])),
    )
    try:
        for ver in sc.versions:
            sc.yuma_params(ver)
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"{source}: params: {e}") from None
    return sc


def builtin_names() -> list[str]:
    return sorted(p.name.rsplit(".", 1)[0] for p in resources.files(__package__).joinpath("scenarios").iterdir()
                  if p.name.endswith((".toml", ".yaml", ".yml")))


def load(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a .toml / .yaml / .yml file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        base = resources.files(__package__).joinpath("scenarios")
        for ext in (".toml", ".yaml", ".yml"):
            if base.joinpath(name_or_path + ext).is_file():
                return _parse_text(base.joinpath(name_or_path + ext).read_text(), name_or_path + ext)
        raise ScenarioError(f"no built-in scenario {name_or_path!r}; built-ins: {', '.join(builtin_names())} "
                            "(or pass a path to a .toml/.yaml file)")
    if not path.is_file():
        raise ScenarioError(f"{name_or_path}: file not found")
    return _parse_text(path.read_text(), str(path))


def _parse_text(text: str, source: str) -> Scenario:
    try:
        if source.endswith(".toml"):
            data = tomllib.loads(text)
        elif source.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise ScenarioError(f"{source}: unknown format; use a .toml, .yaml or .yml file")
    except ScenarioError:
        raise
    except Exception as e:  # noqa: BLE001 - any parser error becomes a ScenarioError naming the file
        raise ScenarioError(f"{source}: cannot parse: {e}") from None
    return parse(data, source)
