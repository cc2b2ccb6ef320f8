"""Start, stop and inspect one Chopsticks process, tracked by a pidfile and a port file in a
state directory (default ~/.cache/opensubnet/localnet). Without `--db` its state lives in memory,
so every start is a fresh genesis."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chain.errors import ChainError
from chain.localnet import chopsticks
from chain.localnet.config import write_config
from chain.localnet.paths import localnet_dir
from chain.localnet import genesis
from chain.localnet.spec import DEFAULT_RUNTIME, find_spec

log = logging.getLogger(__name__)
DEFAULT_PORT = 9944
READY_LINE = "RPC listening"


@dataclass(frozen=True)
class LocalnetStatus:
    running: bool
    pid: int | None
    port: int | None
    state_dir: Path

    @property
    def url(self) -> str | None:
        return f"ws://127.0.0.1:{self.port}" if self.running and self.port else None

    @property
    def log_file(self) -> Path:
        return self.state_dir / "chopsticks.log"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # guard against a recycled pid
        try:
            text = cmdline.read_bytes()
            return b"chopsticks" in text or b"runtime_tool.cjs" in text
        except OSError:
            return False
    return True


def status(state_dir: Path | None = None) -> LocalnetStatus:
    d = state_dir or localnet_dir()
    pid, port = _read_int(d / "pid"), _read_int(d / "port")
    running = pid is not None and _alive(pid)
    return LocalnetStatus(running, pid if running else None, port if running else None, d)


def _port_free(port: int) -> bool:
    """Nothing listens on the port. SO_REUSEADDR as Node sets it: connections of a chain just stopped
    linger in TIME_WAIT for a minute and must not block a restart on the same port."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _locked(d: Path):
    """One start/stop at a time per state directory (several processes may call connect('local'))."""
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _wait_ready(proc: subprocess.Popen, log_file: Path, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:]
            raise ChainError(f"Chopsticks exited with code {proc.returncode} during start:\n{tail}",
                             hint=f"see {log_file}; is the chain spec a raw subtensor spec?")
        if READY_LINE in log_file.read_text(errors="replace"):
            return
        time.sleep(0.1)
    proc.terminate()
    raise ChainError(f"Chopsticks did not listen on port {port} within {timeout:.0f}s", hint=f"see {log_file}")


def _wait_port_free(port: int, timeout: float = 10.0) -> bool:
    """A Chopsticks just stopped may hold its port a moment: wait for it (a restart on the same port)."""
    deadline = time.monotonic() + timeout
    while not _port_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def start(chain_spec: str | os.PathLike | None = None, port: int | None = None, *, state_dir: Path | None = None,
          install: bool = True, timeout: float = 90.0, runtime: int = DEFAULT_RUNTIME) -> tuple[LocalnetStatus, bool]:
    """Start Chopsticks unless one already runs in state_dir; returns (status, started_now).
    `runtime`: which known spec (148 or 293) when no `chain_spec` path is given; a plain spec gets
    its raw genesis built first, and the runtime's own Aura slot duration is used."""
    d = state_dir or localnet_dir()
    with _locked(d):
        current = status(d)
        if current.running:
            return current, False
        spec = find_spec(chain_spec, runtime)
        chopsticks.ensure(allow_install=install)
        if port is None:
            port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port()
        elif not _wait_port_free(port):
            raise ChainError(f"port {port} on 127.0.0.1 is in use", hint="pick another with --port")
        raw = genesis.raw_spec(spec)
        slot_ms = genesis.slot_duration_ms(raw)
        config = write_config(raw, port, d / "config.yml")
        st = LocalnetStatus(True, None, port, d)
        log.info("starting Chopsticks on 127.0.0.1:%d with %s (Aura slot %d ms)", port, spec.name, slot_ms)
        launch, env = genesis.tool_command("launch", str(slot_ms), str(raw), "--")
        with open(st.log_file, "w") as out:
            proc = subprocess.Popen(launch + ["--config", str(config), "--port", str(port)], stdout=out, env=env,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_ready(proc, st.log_file, port, timeout)
        (d / "port").write_text(str(port))
        (d / "pid").write_text(str(proc.pid))
        log.info("Chopsticks running: pid %d, ws://127.0.0.1:%d", proc.pid, port)
        return status(d), True


def stop(state_dir: Path | None = None, timeout: float = 10.0) -> bool:
    """SIGTERM the tracked Chopsticks (SIGKILL after `timeout`); True if one was running."""
    d = state_dir or localnet_dir()
    with _locked(d):
        st = status(d)
        for f in ("pid", "port"):
            (d / f).unlink(missing_ok=True)
        if not st.running:
            return False
        os.kill(st.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(st.pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(st.pid, os.WNOHANG)
            time.sleep(0.05)
        if _alive(st.pid):
            os.kill(st.pid, signal.SIGKILL)
        log.info("Chopsticks (pid %d) stopped", st.pid)
        return True
