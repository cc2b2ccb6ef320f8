"""Chopsticks (npm `@acala-network/chopsticks`), which runs the real runtime wasm: find it, or
install it on demand into the cache with npm (progress shown)."""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

from chain.errors import ChainError
from chain.localnet.paths import chopsticks_dir

log = logging.getLogger(__name__)
PACKAGE = "@acala-network/chopsticks"
VERSION = "1.5.1"


class ChopsticksMissing(ChainError):
    pass


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ChopsticksMissing("node (Node.js >= 20) is not installed",
                                hint="install Node.js 20+ (e.g. `apt-get install nodejs npm`), then retry")
    return node


def entry_point(prefix: Path | None = None) -> Path:
    return (prefix or chopsticks_dir()) / "node_modules" / "@acala-network" / "chopsticks" / "chopsticks.cjs"


def installed(prefix: Path | None = None) -> bool:
    return entry_point(prefix).is_file()


def install(prefix: Path | None = None) -> Path:
    """`npm install @acala-network/chopsticks@VERSION` into the cache (≈ 2 min, ≈ 270 MB)."""
    prefix = prefix or chopsticks_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise ChopsticksMissing("npm is not installed, so Chopsticks cannot be installed",
                                hint="install Node.js 20+ with npm, then retry")
    prefix.mkdir(parents=True, exist_ok=True)
    manifest = prefix / "package.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"name": "opensubnet-chopsticks", "private": True}))
    log.info("installing %s@%s into %s with npm (about 2 minutes, 270 MB) …", PACKAGE, VERSION, prefix)
    # npm prints its own progress to the terminal; its output is not captured
    result = subprocess.run([npm, "install", "--no-fund", "--no-audit", "--progress=true",
                             f"{PACKAGE}@{VERSION}"], cwd=prefix)
    if result.returncode != 0 or not installed(prefix):
        raise ChopsticksMissing(f"npm install of {PACKAGE}@{VERSION} failed (exit {result.returncode})",
                                hint="check network access to the npm registry, or install it yourself: "
                                     f"cd {prefix} && npm install {PACKAGE}@{VERSION}")
    log.info("Chopsticks installed")
    return entry_point(prefix)


def ensure(prefix: Path | None = None, *, allow_install: bool = True) -> list[str]:
    """The command line that runs Chopsticks, installing it first when missing and allowed."""
    node = node_binary()
    if not installed(prefix):
        if not allow_install:
            raise ChopsticksMissing(f"Chopsticks is not installed in {prefix or chopsticks_dir()}",
                                    hint="run `neuron localnet start` once (it installs Chopsticks with npm), or "
                                         f"cd {prefix or chopsticks_dir()} && npm install {PACKAGE}@{VERSION}")
        install(prefix)
    return [node, str(entry_point(prefix))]
