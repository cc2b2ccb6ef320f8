"""What the reliability tests and benches share: a subnet on a dev ledger file, neuron processes
started from the real CLI (or from the small test servers beside this file), and /proc readings.

Every process is a separate OS process talking real gRPC on loopback with real sr25519 keys;
the dev ledger file is the chain they all share (`dev:PATH`).
"""
from __future__ import annotations

import math
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from chain.dev import DevChain
from neurons.dendrite import Endpoint
from neurons.localsubnet.plan import NeuronPlan
from neurons.localsubnet.procs import Children
from neurons.localsubnet.runner import AXON_IP, LocalSubnet
from neurons.wallet import DevWallet

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SUBNET = "text-embedding"


def long_mode(config=None) -> bool:
    """The full versions: `pytest tests/reliability --long` or OPENSUBNET_LONG=1."""
    if os.environ.get("OPENSUBNET_LONG", "") not in ("", "0"):
        return True
    return bool(config is not None and config.getoption("--long", default=False))


def hotkey_of(name: str):
    """The dev hotkey of a plan entry named `name` (DEV ONLY keys, //opensubnet/<name>//default)."""
    return DevWallet(f"//opensubnet/{name}").hotkey()


@dataclass
class DevSubnet:
    """A text-embedding subnet on a fresh dev ledger file, with its participants registered."""
    tmp: Path
    plan: list[NeuronPlan]
    hyperparameters: dict = field(default_factory=dict)
    block_time: float = 0.0
    tempo: int = 360

    def __post_init__(self):
        self.path = self.tmp / "chain.sqlite"
        self.url = f"dev:{self.path}"
        self.chain = DevChain(str(self.path), block_time=self.block_time)
        self.children = Children(self.tmp / "logs")
        self.local = LocalSubnet(self.chain, self.url, SUBNET, self.plan, self.tmp, tempo=self.tempo,
                                 block_time=self.block_time or 0.2, api=False)
        self.netuid = self.local.create(self.hyperparameters)
        self.local.register_all()
        self.uids = self.local.uids
        self.grant_permits()

    def grant_permits(self) -> None:
        """Run blocks to the next epoch, which grants the staked validators their permits:
        miners serve only permit holders by default (axon.require_validator_permit)."""
        validators = [self.uids[p.name] for p in self.plan if p.role == "validator"]
        for _ in range(3):
            if all(self.chain.metagraph(self.netuid).validator_permit[u] for u in validators):
                return
            self.chain.advance_blocks(self.tempo + 1)
        raise RuntimeError(f"validators {validators} hold no permit after 3 epochs")

    # --- processes ---------------------------------------------------------------------------
    def common_args(self) -> list[str]:
        return ["--chain", self.url, "--netuid", str(self.netuid), "--subnet.name", SUBNET]

    def start_miner(self, name: str, model: str = "bow", extra: list[str] | None = None):
        """The real `neuron miner` process (one torch thread, as the CLI sets)."""
        return self.children.python(name, ["miner", *self.common_args(), "--wallet", f"//opensubnet/{name}",
                                           "--miner.model", model, "--axon.host", AXON_IP,
                                           "--axon.external_ip", AXON_IP, "--axon.port", str(free_port()),
                                           *(extra or [])])

    def start_validator(self, name: str, extra: list[str] | None = None, pause: float = 0.0, log_name: str | None = None):
        """The real `neuron validator` process (state in tmp/state, kept across restarts)."""
        args = ["validator", *self.common_args(), "--wallet", f"//opensubnet/{name}",
                "--validator.state_dir", str(self.tmp / "state"), "--pause", str(pause), *(extra or [])]
        return self.children.python(log_name or name, args)

    def start_script(self, name: str, script: str, args: list[str]):
        """A helper server/client beside this file (faulty_miner.py, raw_servers.py, flooder.py)."""
        return self.children.start(name, [sys.executable, str(HERE / script), *args],
                                   env={"PYTHONPATH": str(ROOT)})

    def wait_serving(self, names: list[str], timeout: float = 90.0) -> None:
        """Until every named neuron has its axon on chain; fails fast if a process died."""
        deadline = time.monotonic() + timeout
        while True:
            mg = self.chain.metagraph(self.netuid)
            missing = [n for n in names if not (mg.axons[self.uids[n]] and mg.axons[self.uids[n]].serving)]
            if not missing:
                return
            if dead := self.children.dead():
                raise RuntimeError(f"{dead[0].name} exited with {dead[0].proc.returncode}:\n{dead[0].tail(30)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not serving after {timeout:.0f}s: {missing}")
            time.sleep(0.2)

    def endpoint(self, name: str) -> Endpoint:
        mg = self.chain.metagraph(self.netuid)
        ax = mg.axons[self.uids[name]]
        return Endpoint(mg.hotkeys[self.uids[name]], ax.ip, ax.port, self.uids[name])

    def close(self) -> None:
        self.children.stop_all()
        self.chain.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- /proc readings ------------------------------------------------------------------------------
def rss_kib(pid: int) -> int:
    """Resident set size (VmRSS) of a live process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(xs)
    return s[min(len(s), max(1, math.ceil(q / 100 * len(s)))) - 1]
