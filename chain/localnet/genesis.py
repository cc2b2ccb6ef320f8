"""What a chain spec needs before Chopsticks can run it, computed by the runtime itself through
Chopsticks' executor (chain/localnet/runtime_tool.cjs; no node binary):

- `raw_spec(path)`: a plain spec (genesis.runtimeGenesis: code + patch, as 2025 runtimes ship) becomes
  a raw one: GenesisBuilder_get_preset → JSON-merge the patch → GenesisBuilder_build_state, plus
  `:code`. Deterministic; cached in the cache directory by the plain spec's sha256.
- `slot_duration_ms(path)`: the runtime's AuraApi_slot_duration, asked with unresolved host imports
  allowed (Chopsticks asks without, fails on 2025 runtimes and silently assumes 12 s).
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

from chain.errors import ChainError
from chain.localnet import chopsticks
from chain.localnet.paths import chainspec_dir
from chain.localnet.spec import is_plain, sha256_of

log = logging.getLogger(__name__)
TOOL = Path(__file__).with_name("runtime_tool.cjs")
TIMESTAMP_NOW = "0xf0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb"  # Timestamp.Now
GENESIS_TIME_MS = 1_750_000_000_000   # a fixed genesis time (June 2025): the raw spec stays deterministic


def tool_command(*args: str) -> tuple[list[str], dict]:
    """(argv, env) that run runtime_tool.cjs with Chopsticks' modules on NODE_PATH."""
    node = chopsticks.node_binary()
    modules = chopsticks.entry_point().parents[2]           # …/node_modules
    env = dict(os.environ, NODE_PATH=str(modules))
    return [node, str(TOOL), *args], env


def _run(*args: str, timeout: float = 300.0) -> str:
    if not chopsticks.installed():
        raise chopsticks.ChopsticksMissing("Chopsticks is not installed, and it runs the runtime's genesis builder",
                                           hint="run `neuron localnet start` once (it installs Chopsticks with npm)")
    cmd, env = tool_command(*args)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise ChainError(f"the runtime tool failed ({' '.join(args[:1])}): {result.stderr.strip()[-800:]}",
                         hint="is the chain spec a subtensor spec with its runtime code?")
    return result.stdout


def raw_spec(path: Path) -> Path:
    """`path` itself when it is raw, else the raw spec built from it (cached)."""
    spec = json.loads(Path(path).read_text())
    if not is_plain(spec):
        return Path(path)
    out = chainspec_dir() / f"raw-{sha256_of(Path(path))[:16]}.json"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        log.info("building the raw genesis of %s with the runtime's GenesisBuilder …", Path(path).name)
        part = out.with_suffix(".part")
        _run("build-raw", str(path), str(part))
        raw = json.loads(part.read_text())
        # a genesis Timestamp.Now on a slot boundary: without one Chopsticks takes the wall clock
        # twice for block 1 (its Aura slot and its timestamp) and, with 1 s slots, they often differ
        slot = int(_run("slot-duration", str(part)).strip())
        raw["genesis"]["raw"]["top"][TIMESTAMP_NOW] = "0x" + (GENESIS_TIME_MS // slot * slot).to_bytes(8, "little").hex()
        part.write_text(json.dumps(raw))
        os.replace(part, out)
        log.info("raw genesis saved to %s", out)
    return out


def slot_duration_ms(path: Path) -> int:
    """The runtime's Aura slot in milliseconds (cached next to the raw spec)."""
    memo = chainspec_dir() / f"slot-{sha256_of(Path(path))[:16]}.txt"
    if memo.is_file():
        return int(memo.read_text())
    value = int(_run("slot-duration", str(path)).strip())
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(str(value))
    return value
