"""An operator at a shell (tests/journeys): runs `neuron` commands as subprocesses, in a home of its own, and nothing
else. Imports nothing of the project: what it checks is what a person typing the commands sees."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

NEURON = Path(sys.executable).with_name("neuron")
PASSWORD = "journey-password-1"
SPEC_NAME = "subtensor-spec148.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_cache() -> Path:
    """Where `neuron localnet` looks for Chopsticks and the chain spec, for the real user."""
    return Path(os.environ.get("OPENSUBNET_CACHE") or Path.home() / ".cache" / "opensubnet")


def local_runtime_missing() -> str | None:
    """Why the local-runtime journeys cannot run here, or None."""
    spec = real_cache() / "chainspecs" / SPEC_NAME
    if not spec.is_file():
        return (f"local runtime journeys need the subtensor spec-148 chain spec at {spec}: "
                "get it with `neuron localnet fetch --spec-url URL` (see README, 'Local runtime')")
    if not (real_cache() / "chopsticks").is_dir() or shutil.which("node") is None:
        return ("local runtime journeys need node and Chopsticks: run `neuron localnet start` once "
                "(it installs Chopsticks with npm), then `neuron localnet stop`")
    return None


class Shell:
    """`run` a command to completion (asserting exit 0 unless told), `start` a long-running one."""

    def __init__(self, root: Path, chain: str, cache: Path | None = None):
        self.root = root
        self.chain = chain
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.upper().startswith("OPENSUBNET_")}
        self.env.update(HOME=str(home), OPENSUBNET_WALLET_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
        if cache is not None:
            self.env["OPENSUBNET_CACHE"] = str(cache)
        self.procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def run(self, *args: str, ok: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(NEURON), *args], env=self.env, cwd=self.root, capture_output=True, text=True,
                              timeout=timeout)
        if ok:
            assert proc.returncode == 0, f"neuron {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def out(self, *args: str) -> str:
        return self.run(*args).stdout

    def start(self, name: str, *args: str) -> None:
        log = self.root / f"{name}.log"
        f = open(log, "w")
        proc = subprocess.Popen([str(NEURON), *args], env=self.env, cwd=self.root, stdout=f, stderr=subprocess.STDOUT,
                                text=True)
        f.close()
        self.procs[name] = (proc, log)

    def log(self, name: str) -> str:
        return self.procs[name][1].read_text()

    def wait_for(self, what: str, check, timeout: float):
        """Poll `check()` until it returns something truthy; fail with every child's log tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            for name, (proc, log) in self.procs.items():
                assert proc.poll() is None, f"{name} exited ({proc.returncode}) while waiting for {what}:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        tails = "\n".join(f"--- {n}\n{log.read_text()[-3000:]}" for n, (_, log) in self.procs.items())
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")

    def wait_log(self, name: str, pattern: str, timeout: float) -> re.Match:
        """The first match of `pattern` in child `name`'s log (cheap to poll, unlike a command)."""
        return self.wait_for(f"{pattern!r} in {name}'s log", lambda: re.search(pattern, self.log(name), re.M), timeout)

    def stop_all(self, timeout: float = 15) -> dict[str, int]:
        """SIGINT each child, as Ctrl-C would; returns their exit codes (killed ones: -9)."""
        codes = {}
        for name, (proc, _) in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for name, (proc, _) in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        self.procs.clear()
        return codes

    # --- steps every journey shares -----------------------------------------------------------
    def wallet(self, name: str) -> str:
        """`neuron wallet create`; returns the coldkey address."""
        out = self.out("wallet", "create", "--wallet", name)
        return re.search(r"coldkey\s+(\S+)", out).group(1)

    def hotkey(self, name: str) -> str:
        return re.search(r"hotkey default\s+(\S+)", self.out("wallet", "show", "--wallet", name)).group(1)

    def fund(self, name: str, tao: str) -> None:
        assert "funded wallet" in self.out("wallet", "fund", "--chain", self.chain, "--wallet", name, "--amount", tao)

    def register(self, name: str, netuid: int) -> int:
        out = self.out("register", "--chain", self.chain, "--netuid", str(netuid), "--wallet", name)
        return int(re.search(r"uid (\d+)", out).group(1))

    def metagraph(self, netuid: int) -> dict:
        return json.loads(self.out("metagraph", "--chain", self.chain, "--netuid", str(netuid), "--json"))

    def neuron_row(self, netuid: int, hotkey: str) -> dict | None:
        return next((r for r in self.metagraph(netuid)["neurons"] if r["hotkey"] == hotkey), None)


class BlockPacer:
    """The local runtime (Chopsticks, instant mode) builds a block per extrinsic and none when idle:
    for neurons to see epochs there, Chopsticks' own `dev_newBlock` RPC builds one every `period`
    seconds (over a plain websocket: the harness, not the journey, and no process per block)."""

    def __init__(self, shell: Shell, period: float = 3.0):
        import threading

        self.url = "ws://127.0.0.1:" + shell.chain.rsplit(":", 1)[1]
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import websocket  # websocket-client, substrate-interface's transport

        ws = None
        while not self._stop.wait(self.period):
            try:
                ws = ws or websocket.create_connection(self.url, timeout=30)
                ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "dev_newBlock", "params": [{"count": 1}]}))
                ws.recv()
            except (OSError, websocket.WebSocketException):
                ws = None   # the chain restarts or is gone: try again next period
        if ws is not None:
            ws.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def new_subnet(sh: Shell, wallet: str = "//Alice") -> int:
    """`neuron subnet create` prints the new netuid (the dev account pays where the journey is not about it)."""
    return int(sh.out("subnet", "create", "--chain", sh.chain, "--wallet", wallet).strip().splitlines()[-1])


def start_miner(sh: Shell, name: str, netuid: int, subnet: str = "text-embedding", model: str = "bow") -> int:
    port = free_port()
    sh.start(name, "miner", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", name,
             "--subnet.name", subnet, "--miner.model", model, "--axon.port", str(port))
    return port


def block_of(sh: Shell, netuid: int) -> int:
    return sh.metagraph(netuid)["block"]
