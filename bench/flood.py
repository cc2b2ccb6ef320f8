"""Flood benchmark: a validator's latency to a miner with and without two flooders (same run).

One real `neuron miner` (bow, default axon limits); a 1000-TAO validator queries it at a steady
rate, first alone (the baseline), then while an unregistered hotkey and a registered 1-TAO hotkey
flood it from their own processes as fast as they can: each keeps `--concurrency` requests in
flight, sending the next as soon as an answer comes back (see tests/reliability/flood.py). Prints
the answers/s the flooders got and their codes, the validator's p50/p99 and success rate in both
phases and their ratio, and the miner's RSS growth. The flooders' rate is what the miner lets
through: past a small allowance per source address it holds refusals back (neurons/axon/tarpit.py).

    python bench/flood.py                   # 15 s per phase, 20 validator req/s, 32 in flight per flooder
    python bench/flood.py --concurrency 512 # a much wider flood (a stream serves 64 at once; the rest wait)
    python bench/flood.py --nice 0          # flooders compete for the cores on equal terms
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reliability")]
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from flood import format_table, run_flood  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    p.add_argument("--rate", type=float, default=20.0, help="validator requests per second")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight per flooder")
    p.add_argument("--nice", type=int, default=19, help="flooders' nice level: 19 stands in for flooders on other "
                   "hosts (they get only the CPU the miner and validator leave); 0 = equal share of these cores")
    a = p.parse_args()
    print(f"flood bench: {a.seconds:g} s per phase, validator {a.rate:g} req/s, flooders {a.concurrency} in flight "
          f"each at nice {a.nice}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        r = run_flood(Path(tmp), seconds=a.seconds, rate=a.rate, concurrency=a.concurrency, nice=a.nice)
    print(format_table(r))
    ratio = r.flooded.p(99) / r.alone.p(99)
    print(f"target: p99 flooded <= 2x alone ({'PASS' if ratio <= 2 else 'FAIL'}: {ratio:.2f}x), "
          f"success > 99% ({'PASS' if r.flooded.success > 0.99 else 'FAIL'}: {r.flooded.success:.2%}); "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
