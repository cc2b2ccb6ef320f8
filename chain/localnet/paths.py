"""Where the local chain keeps its files: ~/.cache/opensubnet (or $OPENSUBNET_CACHE)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("OPENSUBNET_CACHE") or Path.home() / ".cache" / "opensubnet")


def chopsticks_dir() -> Path:
    """npm prefix holding node_modules/@acala-network/chopsticks."""
    return cache_dir() / "chopsticks"


def chainspec_dir() -> Path:
    return cache_dir() / "chainspecs"


def localnet_dir() -> Path:
    """Runtime files of the `neuron localnet` chain: pidfile, port file, config, log."""
    return cache_dir() / "localnet"
