"""End to end on the dev ledger, every neuron a separate process over real gRPC and real keys:
the better model earns more, and a validator killed with SIGKILL resumes its scores."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from chain.dev import DevChain
from neurons.localsubnet.plan import default_plan
from neurons.localsubnet.procs import Children
from neurons.localsubnet.runner import LocalSubnet


def test_demo_ranks_minilm_over_bow_over_random(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "neurons.cli.main", "demo", "--chain", "dev", "--validators", "1",
         "--models", "minilm,bow,random", "--epochs", "2", "--tempo", "6", "--block-time", "0.3",
         "--batch-size", "12", "--out", str(out), "--timeout", "240"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {r["model"]: r for r in json.loads((out / "results.json").read_text())["rows"] if r["role"] == "miner"}
    assert rows["minilm"]["incentive"] > rows["bow"]["incentive"] >= rows["random"]["incentive"]
    assert rows["minilm"]["incentive"] > rows["random"]["incentive"]
    assert (out / "incentive.png").stat().st_size > 10_000
    assert "minilm" in proc.stdout and "incentive" in proc.stdout  # the table was printed


def _steps(log: Path) -> list[int]:
    return [int(m) for m in re.findall(r"step (\d+) seed", log.read_text(errors="replace"))]


def test_validator_killed_with_sigkill_resumes_scores(tmp_path):
    chain = DevChain(str(tmp_path / "chain.sqlite"))
    plan = default_plan(["bow", "random"], n_validators=1)
    sub = LocalSubnet(chain, f"dev:{tmp_path / 'chain.sqlite'}", "text-embedding", plan, tmp_path,
                      tempo=6, block_time=0.2, timeout_s=120,
                      validator_args=["--validator.batch_size", "8", "--validator.weights_interval_blocks", "3"])
    children = Children(tmp_path / "logs")
    try:
        sub.launch(children)
        vlog = tmp_path / "logs" / "validator1.log"
        deadline = time.monotonic() + 90
        while len(_steps(vlog)) < 4:
            assert time.monotonic() < deadline, vlog.read_text()
            chain.advance_blocks(1)
            time.sleep(0.2)
        validator = next(c for c in children.items if c.name == "validator1")
        os.killpg(validator.proc.pid, signal.SIGKILL)
        validator.proc.wait()
        done = max(_steps(vlog))
        children.items.remove(validator)
        sub.plan = [p for p in plan if p.role == "validator"]
        sub.start_neurons(children, "validator")       # same wallet, same state dir
        deadline = time.monotonic() + 90
        while "resumed at step" not in vlog.read_text() or max(_steps(vlog), default=0) <= done:
            assert time.monotonic() < deadline, vlog.read_text()
            chain.advance_blocks(1)
            time.sleep(0.2)
        resumed = int(re.search(r"resumed at step (\d+)", vlog.read_text()).group(1))
        # the restart continues from a saved step: at most the step in flight when killed is redone
        assert done <= resumed <= done + 1
        assert "Traceback" not in vlog.read_text()
    finally:
        children.stop_all()
        chain.close()
