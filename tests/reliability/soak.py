"""The soak experiment, shared by tests/reliability/test_soak.py and bench/soak.py.

A real `neuron miner` (bow) and `neuron validator` on a real-time dev ledger (a block every 0.2 s,
weights every 10 blocks, an epoch every 21 blocks) run for the given time; RSS (VmRSS) and open
file descriptors of both processes are sampled every `sample_s` from /proc, starting once the
validator has finished its warm-up steps (models loaded, channels open, allocator warm).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import DevSubnet, open_fds, rss_kib
from neurons.localsubnet.plan import NeuronPlan

WARMUP_STEPS = 5


@dataclass
class Series:
    t_s: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    @property
    def rss_growth_mib(self) -> float:
        return (self.rss_kib[-1] - self.rss_kib[0]) / 1024

    @property
    def fd_growth(self) -> int:
        return self.fds[-1] - self.fds[0]


@dataclass
class SoakResult:
    seconds: float
    steps: int
    weights_set: int
    procs: dict[str, Series]
    errors: list[str]


def _steps(text: str) -> list[int]:
    return [int(s) for s in re.findall(r"step (\d+) seed", text)]


def run_soak(tmp: Path, *, seconds: float, sample_s: float = 5.0, progress=None) -> SoakResult:
    plan = [NeuronPlan("validator", "validator", stake_tao=1000), NeuronPlan("miner", "miner")]
    sub = DevSubnet(tmp, plan, hyperparameters={"weights_rate_limit": 10, "commit_reveal_enabled": False}, block_time=0.2, tempo=20)
    try:
        miner = sub.start_miner("miner", "bow")
        sub.wait_serving(["miner"])
        validator = sub.start_validator("validator", ["--validator.weights_interval_blocks", "10",
                                                      "--validator.batch_size", "8", "--dendrite.timeout_s", "5"],
                                        pause=0.1)
        deadline = time.monotonic() + 120
        while len(_steps(validator.log_path.read_text(errors="replace"))) < WARMUP_STEPS:
            if not validator.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"validator did not warm up:\n{validator.tail(30)}")
            time.sleep(0.2)
        procs = {"miner": Series(), "validator": Series()}
        pids = {"miner": miner.proc.pid, "validator": validator.proc.pid}
        t0 = time.monotonic()
        while True:
            now = time.monotonic() - t0
            for name, series in procs.items():
                if sub.children.dead():
                    raise RuntimeError("a neuron died during the soak:\n" + sub.children.dead()[0].tail(30))
                series.t_s.append(now)
                series.rss_kib.append(rss_kib(pids[name]))
                series.fds.append(open_fds(pids[name]))
            if progress:
                progress(now, procs)
            if now >= seconds:
                break
            time.sleep(min(sample_s, max(0.0, seconds - now)))
        text = validator.log_path.read_text(errors="replace")
        errors = [line for c in sub.children.items for line in c.log_path.read_text(errors="replace").splitlines()
                  if "Traceback" in line or " ERROR " in line]
        return SoakResult(time.monotonic() - t0, len(_steps(text)), text.count("weights set at block"), procs, errors)
    finally:
        sub.close()


def format_table(r: SoakResult) -> str:
    rows = [f"soak of {r.seconds:.0f} s after warm-up: {r.steps} validator steps, {r.weights_set} weight submissions",
            "", "| process | RSS start MiB | RSS end MiB | RSS peak MiB | growth MiB | fds start | fds end | fd growth |",
            "|---|---|---|---|---|---|---|---|"]
    for name, s in r.procs.items():
        rows.append(f"| {name} | {s.rss_kib[0] / 1024:.1f} | {s.rss_kib[-1] / 1024:.1f} | {max(s.rss_kib) / 1024:.1f} | "
                    f"{s.rss_growth_mib:+.1f} | {s.fds[0]} | {s.fds[-1]} | {s.fd_growth:+d} |")
    return "\n".join(rows)
