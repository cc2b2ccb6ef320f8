"""The validator's per-miner view after each step: uid, hotkey, last code, latency, score, weight.

Written as JSON to STATE_DIR/miners.json every step (atomically: readers never see half a file),
redrawn as a table when stdout is a terminal, and fed to the Prometheus metrics when they are on.
Off a terminal the step's one-line log (neurons/validator/loop.py) is the whole console output.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence, TextIO

from neurons.config.schema import MetricsSection
from neurons.validator.metrics import ValidatorMetrics

log = logging.getLogger("opensubnet.validator")

TABLE_FILE = "miners.json"
_CLEAR = "\x1b[H\x1b[2J"  # cursor home + clear screen: the table is redrawn in place


@dataclass(frozen=True)
class MinerRow:
    uid: int
    hotkey: str
    code: str | None         # the last answer's return code name (None: not asked since start)
    latency_ms: float | None
    score: float
    weight: float


def miner_rows(hotkeys: Sequence[str], last: dict[int, tuple[str, str, float]], scores: Sequence[float],
               weights: Sequence[float]) -> list[MinerRow]:
    """Rows of the uids asked since start, scored, or weighted, by uid. last: uid -> (hotkey, code, latency s);
    an entry whose hotkey no longer holds the uid is not shown. scores, weights: [n_uids]."""
    rows = []
    for uid, hotkey in enumerate(hotkeys):
        seen = last.get(uid)
        if seen is not None and seen[0] != hotkey:
            seen = None
        score, weight = float(scores[uid]), float(weights[uid])
        if seen is None and score == 0 and weight == 0:
            continue
        rows.append(MinerRow(uid, hotkey, seen[1] if seen else None,
                             round(seen[2] * 1e3, 3) if seen else None, score, weight))
    return rows


def render_table(rows: Sequence[MinerRow], title: str) -> str:
    head = f"{'uid':>5}  {'hotkey':<48}  {'last code':<20}  {'latency ms':>10}  {'score':>9}  {'weight':>7}"
    lines = [title, head, "-" * len(head)]
    for r in rows:
        latency = f"{r.latency_ms:.1f}" if r.latency_ms is not None else "-"
        lines.append(f"{r.uid:>5}  {r.hotkey:<48}  {r.code or '-':<20}  {latency:>10}  {r.score:>9.4f}  {r.weight:>7.4f}")
    if not rows:
        lines.append("  (no miner asked or scored yet)")
    return "\n".join(lines) + "\n"


def write_json_atomic(path: Path, obj: object) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class StepReport:
    """What the validator shows after each step. `tty`: redraw the table on `out` (default: out.isatty())."""

    def __init__(self, state_dir: str | os.PathLike, metrics: MetricsSection | None = None, *,
                 out: TextIO | None = None, tty: bool | None = None):
        self.path = Path(state_dir) / TABLE_FILE
        self.section = metrics
        self.metrics = ValidatorMetrics() if metrics is not None and metrics.port is not None else None
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self._last: dict[int, tuple[str, str, float]] = {}
        self._write_error: str | None = None

    def start(self) -> None:
        """Serve the metrics (when --metrics.port is set); MetricsServerError when the port cannot be bound."""
        if self.metrics is not None:
            self.metrics.serve(self.section.port, self.section.host)

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()

    def step(self, *, step: int, block: int, hotkeys: Sequence[str], results: Sequence, scores: Sequence[float],
             weights: Sequence[float], seconds: float, weights_submitted: bool, weights_block: int,
             why_not: str | None) -> list[MinerRow]:
        """After a step: results are the dendrite's (endpoint.uid, code, latency_s); scores, weights: [n_uids];
        weights_submitted: this step's weights reached the chain, else `why_not` (None: the chain rejected them)."""
        if self.metrics is not None:
            self.metrics.observe_weights(weights_submitted, weights_block, why_not)
        for r in results:
            if r.uid is not None:
                self._last[r.uid] = (r.endpoint.hotkey, r.code.name, r.latency_s)
        rows = miner_rows(hotkeys, self._last, scores, weights)
        if self.metrics is not None:
            self.metrics.observe_step(seconds, scores, weights, [(r.code.name, r.latency_s) for r in results])
        try:
            write_json_atomic(self.path, {"step": step, "block": block, "time": time.time(),
                                          "step_seconds": round(seconds, 4), "weights_block": weights_block,
                                          "miners": [asdict(r) for r in rows]})
            self._write_error = None
        except OSError as e:  # a view, not state: the validator goes on (its state was saved before this)
            if str(e) != self._write_error:  # logged once per distinct failure, not every step
                log.warning("could not write %s: %s", self.path, e.strerror or e)
            self._write_error = str(e)
        if self.tty:
            title = f"validator step {step}  block {block}  ({seconds:.2f} s)  {time.strftime('%H:%M:%S')}"
            self.out.write(_CLEAR + render_table(rows, title))
            self.out.flush()
        return rows

    def chain_error(self, error: BaseException) -> None:
        if self.metrics is not None:
            self.metrics.chain_error(error)
