"""What the reliability tests and benches share: a subnet on a dev ledger file (or on the local
runtime under Chopsticks), neuron processes started from the real CLI (or from the small test servers
beside this file), a block pacer, the validator kill schedule and commit watch of the commit-reveal
kill tests, and /proc readings.

Every process is a separate OS process talking real gRPC on loopback with real sr25519 keys;
the dev ledger file (`dev:PATH`) or the local runtime (`ws://127.0.0.1:PORT`) is the chain they all share.
"""
from __future__ import annotations

import math
import os
import random
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from chain import Chain
from chain.dev import DevChain
from chain.weights import reveal_epoch
from neurons.dendrite import Endpoint
from neurons.localsubnet.plan import NeuronPlan
from neurons.localsubnet.procs import Child, Children
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
    """A text-embedding subnet on a fresh dev ledger file, with its participants registered; or, given
    `chain` and `url` (the local runtime: a LocalChain and its ws:// URL), on that chain."""
    tmp: Path
    plan: list[NeuronPlan]
    hyperparameters: dict = field(default_factory=dict)
    block_time: float = 0.0
    tempo: int = 360
    chain: Chain | None = None
    url: str | None = None

    def __post_init__(self):
        self.path = self.tmp / "chain.sqlite"
        if self.chain is None:
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


class BlockPacer:
    """The local runtime (Chopsticks) builds blocks only on demand (dev_newBlock, one per extrinsic):
    a thread builds one every `block_time` seconds on its own connection, as a real node would, while
    the neuron processes run. `make_chain()`: a new LocalChain."""

    def __init__(self, make_chain: Callable[[], Chain], block_time: float):
        self.chain, self.block_time = make_chain(), block_time
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                self.chain.advance_blocks(1)
                self._stop.wait(max(0.0, self.block_time - (time.monotonic() - t0)))
        except BaseException as exc:   # seen by the test through `error`
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.chain.close()


# --- the commit-reveal kill tests (dev ledger and local runtime) ----------------------------------
#: what each kill cycle waits for before the SIGKILL, in turn: right after a commit or a reveal
#: extrinsic and its record (the dangerous instants), or a random instant (None)
KILL_MARKERS = ("weights committed", "weights revealed", None, "weights committed")


def kill_cycles(start: Callable[[str], Child], cycles: int, rng: random.Random, timeout: float = 90.0) -> list[Path]:
    """SIGKILL the validator `cycles` times: `start(log_name)` starts it (on the same state directory
    each time); each run is killed once it steps, at the instant KILL_MARKERS names for its cycle.
    Fails if a run dies by itself, stalls for `timeout` s, or logs a traceback. Returns the logs."""
    logs = []
    for cycle in range(cycles):
        child = start(f"validator-{cycle}")
        logs.append(child.log_path)
        deadline = time.monotonic() + timeout
        marker = KILL_MARKERS[cycle % len(KILL_MARKERS)]
        while "seed" not in child.log_path.read_text(errors="replace"):      # alive and stepping
            assert child.alive() and time.monotonic() < deadline, child.tail(30)
            time.sleep(0.05)
        if marker:
            while marker not in child.log_path.read_text(errors="replace"):
                assert child.alive() and time.monotonic() < deadline, child.tail(30)
                time.sleep(0.002)
        else:
            time.sleep(rng.uniform(0.0, 2.0))
        os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait()
        assert "Traceback" not in child.log_path.read_text(errors="replace"), child.tail(40)
    return logs


#: one reading of a validator's commits on chain: (block, {commit hash: commit block})
CommitSnapshot = tuple[int, dict[str, int]]


class CommitWatch:
    """Reads one validator's commits on chain throughout, in a thread: when each appeared (its commit
    block), the last block at which it was still there, and the most commits live (on chain and not
    yet expired) at once. `open_reader()` runs in the thread and returns (read, close): `read()` gives
    the snapshots since the last call ([] when the chain is busy: it is asked again)."""

    def __init__(self, open_reader: Callable[[], tuple[Callable[[], list[CommitSnapshot]], Callable[[], None]]],
                 netuid: int, tempo: int, period: int):
        self.netuid, self.tempo, self.period = netuid, tempo, period
        self.first_seen: dict[str, int] = {}       # hash -> commit block
        self.gone_after: dict[str, int] = {}       # hash -> last block at which it was still there
        self.max_live = 0
        self.block = -1                             # the last block read
        self.error: BaseException | None = None
        self._open_reader = open_reader
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def expired(self, block: int, commit_block: int) -> bool:
        """The commit's reveal window (the reveal period's epoch after its own) has closed at `block`."""
        return reveal_epoch(block, self.netuid, self.tempo) > reveal_epoch(commit_block, self.netuid, self.tempo) + self.period

    def _run(self) -> None:
        try:
            read, close = self._open_reader()
        except BaseException as exc:
            self.error = exc
            return
        live: dict[str, int] = {}
        last_block = 0
        try:
            while not self._stop.is_set():
                for block, rows in read():
                    for h in set(live) - set(rows):
                        self.gone_after[h] = last_block
                    for h, b in rows.items():
                        self.first_seen.setdefault(h, int(b))
                    self.max_live = max(self.max_live, sum(1 for b in rows.values() if not self.expired(block, b)))
                    live, last_block = rows, block
                    self.block = block
                time.sleep(0.01)
        except BaseException as exc:
            self.error = exc
        finally:
            close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def verdict(self, end: int) -> tuple[dict[str, int], list[str]]:
        """(closed, lost) at block `end`: the commits whose reveal window has closed, and those of them
        not revealed inside it (still there after the window, or never gone)."""
        closed = {h: b for h, b in self.first_seen.items() if self.expired(end, b)}
        lost = [h for h, b in closed.items() if h not in self.gone_after or self.expired(self.gone_after[h], b)]
        return closed, lost


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
