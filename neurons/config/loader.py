"""The one way commands get their config: `add_config_flags(parser, sections)` then `load_config(args)`.

Precedence: flags > env vars (OPENSUBNET_SECTION__KEY) > TOML file > defaults. The file is --config PATH,
else $OPENSUBNET_CONFIG, else ./opensubnet.toml, else ~/.opensubnet/config.toml (none is fine).
Every value remembers its source (`cfg.origin("axon.port")`), and an invalid value is reported in one
line naming the key and the source it came from.
"""
from __future__ import annotations

import argparse
import logging
import os
import tomllib
from pathlib import Path
from typing import Callable, Iterable, Literal, get_args, get_origin

from pydantic import ValidationError
from pydantic_settings import EnvSettingsSource, SettingsError

from neurons.config.schema import ENV_PREFIX, NeuronConfig, is_secret

CONFIG_ENV = "OPENSUBNET_CONFIG"
MAX_CONFIG_BYTES = 1 << 20
FLAG_DEST = "config:"  # argparse dest prefix of config flags: "config:axon.port"
log = logging.getLogger("opensubnet.config")


class ConfigError(Exception):
    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def default_config_files() -> list[Path]:
    return [Path("opensubnet.toml"), Path("~/.opensubnet/config.toml").expanduser()]


def find_config_file(explicit: str | None = None) -> Path | None:
    for given, what in ((explicit, "--config"), (os.environ.get(CONFIG_ENV), CONFIG_ENV)):
        if given:
            p = Path(given).expanduser()
            if not p.is_file():
                raise ConfigError(f"config file {p} (from {what}) not found",
                                  hint="check the path, or write one with `neuron config show > opensubnet.toml`")
            return p
    return next((p for p in default_config_files() if p.is_file()), None)


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    return parse_toml(raw, str(path))


def parse_toml(raw: bytes, source: str) -> dict:
    """TOML bytes → dict; only ConfigError on bad input."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {source} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {source} is not UTF-8 text") from None
    except (ValueError, RecursionError) as e:  # TOMLDecodeError, and int("9" * 5000) past Python's digit limit
        raise ConfigError(f"config file {source} is not valid TOML: {e}") from None
    _check_int64(data, source)
    return data


def _check_int64(data: dict, source: str) -> None:
    """TOML integers are 64-bit: tomllib accepts any size (0xfff… of 5000 digits), which nothing downstream can print."""
    stack: list = [("", data)]
    while stack:  # iterative: the nesting is as deep as tomllib allowed
        path, v = stack.pop()
        if isinstance(v, dict):
            stack += [(f"{path}.{k}" if path else str(k), x) for k, x in v.items()]
        elif isinstance(v, list):
            stack += [(f"{path}[{i}]", x) for i, x in enumerate(v)]
        elif isinstance(v, int) and not -(1 << 63) <= v < 1 << 63:
            raise ConfigError(f"config file {source} is not valid TOML: {path[:80]!r} is an integer beyond 64 bits")


def add_config_flags(parser: argparse.ArgumentParser, sections: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """--config PATH plus --SECTION.KEY (and short aliases such as --netuid) for each field of `sections`."""
    all_sections = NeuronConfig.sections()
    parser.add_argument("--config", metavar="PATH", default=None,
                        help=f"TOML config file (default: ${CONFIG_ENV}, ./opensubnet.toml, ~/.opensubnet/config.toml)")
    for sec in sections if sections is not None else all_sections:
        group = parser.add_argument_group(f"[{sec}] settings (env OPENSUBNET_{sec.upper()}__KEY, file [{sec}])")
        for name, f in all_sections[sec].model_fields.items():
            key = f"{sec}.{name}"
            flags = [f"--{key}"] if _flag_name(sec, name) == f"--{key}" else [_flag_name(sec, name), f"--{key}"]
            kwargs = dict(dest=FLAG_DEST + key, default=argparse.SUPPRESS,
                          help=f"{f.description or ''} (default: {_default_text(sec, name, f)})")
            if f.annotation is bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            elif get_origin(f.annotation) is Literal:
                kwargs["choices"] = get_args(f.annotation)
            else:
                kwargs["metavar"] = name.upper()
            group.add_argument(*flags, **kwargs)
    return parser


def _default_text(sec: str, name: str, f) -> str:
    """A field's default as --help shows it: the value a default_factory makes (never "PydanticUndefined")."""
    if is_secret(sec, name):
        return "***"
    value = f.get_default(call_default_factory=True)
    return "not set" if value is None else str(value)


def _env_layer() -> dict:
    try:
        return EnvSettingsSource(NeuronConfig, case_sensitive=False, env_prefix=ENV_PREFIX, env_nested_delimiter="__")()
    except SettingsError as e:
        raise ConfigError(f"invalid config in env vars {ENV_PREFIX}*: {e}") from None


def _env_name(sec: str, key: str | None) -> str:
    """The env var a value came from: OPENSUBNET_SECTION__KEY, or OPENSUBNET_SECTION holding JSON."""
    names = {n.upper() for n in os.environ}
    nested = f"{ENV_PREFIX}{sec}__{key}".upper()
    return f"env {nested}" if key and nested in names else f"env {ENV_PREFIX}{sec.upper()}"


def _flag_layer(args: argparse.Namespace | None) -> dict:
    out: dict = {}
    for dest, value in vars(args or argparse.Namespace()).items():
        if dest.startswith(FLAG_DEST):
            sec, name = dest[len(FLAG_DEST):].split(".", 1)
            out.setdefault(sec, {})[name] = value
    return out


def _flag_name(sec: str, name: str) -> str:
    """The field's short flag (json_schema_extra={"flag": …}) if it has one, else --SECTION.KEY."""
    section = NeuronConfig.sections().get(sec)
    field = section.model_fields.get(name) if section else None
    extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
    return extra.get("flag", f"--{sec}.{name}")


def load_config(args: argparse.Namespace | None = None) -> NeuronConfig:
    """The effective config for a command's parsed args (None: file, env and defaults only)."""
    path = find_config_file(getattr(args, "config", None))
    cfg = build_config([
        (read_toml(path) if path else {}, lambda s, k: f"file {path}"),
        (_env_layer(), _env_name),
        (_flag_layer(args), lambda s, k: f"flag {_flag_name(s, k)}"),
    ])
    cfg._file = str(path) if path else None
    return cfg


def build_config(layers: list[tuple[dict, Callable[[str, str | None], str]]]) -> NeuronConfig:
    """Merge {section: {key: value}} layers (later wins) and validate; only ConfigError on bad values.
    Each layer comes with a function naming the source of a (section, key)."""
    sections = NeuronConfig.sections()
    merged: dict = {}
    origins: dict[str, str] = {}
    for data, label in layers:
        for sec, body in data.items():
            if sec not in sections:  # also keeps keys such as `_env_prefix` away from BaseSettings.__init__
                raise ConfigError(f"invalid config: unknown section {sec!r} (from {label(sec, None)})",
                                  hint=f"sections: {', '.join(sections)}")
            if isinstance(body, dict) and isinstance(merged.setdefault(sec, {}), dict):
                for k, v in body.items():
                    merged[sec][k] = v
                    origins[f"{sec}.{k}"] = label(sec, k)
            else:
                merged[sec] = body
                origins[sec] = label(sec, None)
    try:
        cfg = NeuronConfig(**merged)
    except ValidationError as e:
        raise ConfigError(_explain(e, origins), hint="fix the value at its source, or override it with a flag") from None
    except SettingsError as e:
        raise ConfigError(f"invalid config in env vars {ENV_PREFIX}*: {e}") from None
    cfg._origins = origins
    return cfg


def fill_from_subnet(cfg: NeuronConfig, spec) -> NeuronConfig:
    """Settings left unset that the subnet spec gives a default for: the dendrite's timeout (spec.timeout)
    and the validator's challenge batch (spec.default_batch_size). Their origin reads "subnet NAME"."""
    for sec, key, value in (("dendrite", "timeout_s", spec.timeout), ("validator", "batch_size", spec.default_batch_size)):
        section = getattr(cfg, sec)
        if getattr(section, key) is None:
            setattr(section, key, value)
            cfg._origins[f"{sec}.{key}"] = f"subnet {spec.name}"
            log.debug("%s.%s = %s (from subnet %s)", sec, key, value, spec.name)
    return cfg


def _explain(e: ValidationError, origins: dict[str, str]) -> str:
    parts = []
    for err in e.errors():
        loc = [str(p) if str(p).isprintable() else repr(str(p)) for p in err["loc"]]
        key = ".".join(loc)
        source = (origins.get(".".join(loc[:2])) or origins.get(loc[0])
                  or next((v for k, v in origins.items() if k.startswith(f"{loc[0]}.")), None)) if loc else None
        value = "***" if len(loc) >= 2 and is_secret(loc[0], loc[1]) else repr(err.get("input"))
        if len(value) > 60:
            value = value[:57] + "..."
        what = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{key} = {value} (from {source or 'default'}): {what}")
    return "invalid config: " + "; ".join(parts)
