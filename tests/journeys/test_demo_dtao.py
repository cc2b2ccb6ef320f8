"""`neuron demo --chain local --runtime 293`: the one-command subnet on today's dTAO runtime (spec 293, July 2025)
ranks the reference miners as it does on the dev ledger. A subprocess with a cache of its own (the user's chain
specs and Chopsticks linked in); skips, saying how to get them, when they are absent. Imports nothing of ours."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from journey_shell import NEURON, real_cache

SPEC = "subtensor-spec293-plain.json"


def _missing() -> str | None:
    if not (real_cache() / "chainspecs" / SPEC).is_file():
        return (f"the dTAO demo needs the spec-293 chain spec at {real_cache() / 'chainspecs' / SPEC}: "
                "`neuron localnet fetch --runtime 293` says where it comes from")
    if not (real_cache() / "chopsticks").is_dir() or shutil.which("node") is None:
        return "the dTAO demo needs node and Chopsticks: run `neuron localnet start --runtime 293` once (it installs them)"
    return None


@pytest.mark.localnet
@pytest.mark.timeout(900)
def test_demo_on_the_dtao_runtime_ranks_the_miners(tmp_path):
    if why := _missing():
        pytest.skip(why)
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("chainspecs", "chopsticks", "corpus"):
        if (real_cache() / name).exists():
            (cache / name).symlink_to(real_cache() / name)
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("OPENSUBNET_")}
    env.update(HOME=str(tmp_path), OPENSUBNET_CACHE=str(cache), PYTHONUNBUFFERED="1")
    proc = subprocess.run([str(NEURON), "demo", "--chain", "local", "--runtime", "293", "--validators", "1",
                           "--models", "minilm,bow,random", "--epochs", "2", "--out", str(out), "--timeout", "600"],
                          env=env, capture_output=True, text=True, timeout=800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "runtime spec 293" in proc.stdout and "stake alpha" in proc.stdout, proc.stdout[-2000:]
    rows = {r["model"]: r for r in json.loads((out / "results.json").read_text())["rows"] if r["role"] == "miner"}
    assert rows["minilm"]["incentive"] > rows["bow"]["incentive"] >= rows["random"]["incentive"], rows
    assert rows["minilm"]["incentive"] > rows["random"]["incentive"], rows
