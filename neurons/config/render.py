"""The effective config as TOML (loadable again as a config file), secrets masked, each value's source noted."""
from __future__ import annotations

import json
import math
from urllib.parse import urlsplit

from pydantic import SecretStr

from neurons.config.schema import NeuronConfig

MASK = "********"


def mask_url(url: str) -> str:
    """Hide the user:password part of a URL (wss://user:pw@host → wss://***@host)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v)).replace("\x7f", "\\u007f")  # JSON string escapes are valid TOML escapes


def render_toml(cfg: NeuronConfig, *, origins: bool = True, mask: bool = True) -> str:
    lines = ["# effective opensubnet config (precedence: flags > env > file > defaults)",
             f"# config file: {cfg.source_file or 'none'}"]
    for sec in type(cfg).sections():
        lines.append(f"\n[{sec}]")
        section = getattr(cfg, sec)
        for key in type(section).model_fields:
            value = getattr(section, key)
            if isinstance(value, SecretStr):
                value = MASK if mask else value.get_secret_value()
            elif isinstance(value, str) and mask:
                value = mask_url(value)
            line = f"# {key} = (not set)" if value is None else f"{key} = {toml_value(value)}"
            if origins:
                line = f"{line:<48} # {cfg.origin(f'{sec}.{key}')}"
            lines.append(line)
    return "\n".join(lines) + "\n"
