"""Typed configuration: TOML file, env vars and flags, one source of truth (see loader.py, schema.py)."""
from __future__ import annotations

from neurons.config.loader import ConfigError, add_config_flags, find_config_file, load_config
from neurons.config.render import render_toml
from neurons.config.schema import NeuronConfig

__all__ = ["NeuronConfig", "ConfigError", "add_config_flags", "load_config", "find_config_file", "render_toml"]
