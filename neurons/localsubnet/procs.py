"""Child processes of a local subnet: started with their own log file, always stopped."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("opensubnet.localsubnet")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Children:
    """Every process this run started; `stop_all` ends them (TERM, then KILL) and is safe to call twice."""
    log_dir: Path
    items: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as out:   # a restarted child appends to its log
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={**os.environ, **(env or {})}, start_new_session=True)
        child = Child(name, proc, log_path)
        self.items.append(child)
        log.debug("started %s (pid %d): %s", name, proc.pid, " ".join(argv))
        return child

    def python(self, name: str, module_args: list[str], env: dict | None = None) -> Child:
        return self.start(name, [sys.executable, "-m", "neurons.cli.main", *module_args], env)

    def dead(self) -> list[Child]:
        return [c for c in self.items if not c.alive()]

    def stop_all(self, grace_s: float = 5.0) -> None:
        for c in self.items:
            if c.alive():
                _signal_group(c.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for c in self.items:
            try:
                c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(c.proc, signal.SIGKILL)
                c.proc.wait()
        self.items.clear()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
