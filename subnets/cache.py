"""Where the built-in subnets keep extracted corpora and trained reference models.

~/.cache/opensubnet by default; OPENSUBNET_CACHE overrides it. Writes are atomic (temp file +
rename) so several miner processes starting at once never read a half-written file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def cache_dir(*parts: str) -> Path:
    root = os.environ.get("OPENSUBNET_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "opensubnet")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path), then rename tmp_path onto path."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
