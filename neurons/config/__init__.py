"""Typed configuration: TOML file, env vars and flags, one source of truth (see loader.py, schema.py)."""
from __future__ import annotations

from neurons.config.loader import ConfigError, add_config_flags, fill_from_subnet, find_config_file, load_config
from neurons.config.render import render_toml
from neurons.config.schema import NeuronConfig

__all__ = ["NeuronConfig", "ConfigError", "add_config_flags", "load_config", "fill_from_subnet", "find_config_file",
           "render_toml"]
