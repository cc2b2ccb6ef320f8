"""Soak benchmark: a miner and a validator run for N minutes; RSS and open fds sampled from /proc.

Real `neuron miner` (bow) and `neuron validator` processes on a real-time dev ledger (see
tests/reliability/soak.py). Sampling starts after the validator's warm-up steps; prints a progress
line per sample and a table of RSS/fds at start and end. Bounds: RSS growth < 64 MiB and fd growth
<= 4 per process over 30 minutes.

    python bench/soak.py --minutes 30
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reliability")]

from soak import format_table, run_soak  # noqa: E402

RSS_BOUND_MIB, FD_BOUND = 64, 4


def progress(t: float, procs) -> None:
    print(f"  {t / 60:5.1f} min  " + "  ".join(f"{n}: {s.rss_kib[-1] / 1024:.1f} MiB, {s.fds[-1]} fds"
                                               for n, s in procs.items()), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--sample-s", type=float, default=30.0, help="seconds between samples")
    a = p.parse_args()
    print(f"soak bench: {a.minutes:g} min, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        r = run_soak(Path(tmp), seconds=a.minutes * 60, sample_s=a.sample_s, progress=progress)
    print(format_table(r))
    ok = all(s.rss_growth_mib < RSS_BOUND_MIB and s.fd_growth <= FD_BOUND for s in r.procs.values()) and not r.errors
    print(f"bound: RSS growth < {RSS_BOUND_MIB} MiB, fd growth <= {FD_BOUND} per process: {'PASS' if ok else 'FAIL'}"
          + (f"; {len(r.errors)} error lines in the logs, first: {r.errors[0]}" if r.errors else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
