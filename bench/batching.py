"""Miner batching: 8 concurrent validators against one miner, merged forwards vs one per request.

For each subnet (text-embedding with MiniLM, text-next-token with SmolLM2), two miner processes
serve its reference model as `neuron miner` sets it up (neurons/loadtest.py, the same load test as
`neuron bench`): "unbatched" (batching = "off": one forward per request in the axon's handler
slots, one torch thread each) and "batched" (batching = "on", neurons/batching.py:
concurrent requests merged into one forward, up to --max-rows rows, waiting at most --max-wait-ms;
on a CPU that one forward gets every core). The validator process runs 8 validators, each with
its own hotkey and dendrite, each sending one challenge of --rows rows after another. The two
axons are measured in alternating windows of the same run, so both see the same machine load.
Prints requests/s, rows/s, latency p50/p99 and the batched/unbatched ratio per subnet; writes
bench/results_batching.md. The device is cuda when present (the issue's floor: >= 3x on a GPU),
else cpu, where `batching = "auto"` leaves merging off and the unbatched row is what a miner runs.

    python bench/batching.py                              # both subnets, ~2 min on a CPU (plus SmolLM2's first load)
    python bench/batching.py --subnets text-embedding --seconds 4
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

MODELS = {"text-embedding": "minilm", "text-next-token": "smollm2"}  # subnet -> its best reference miner


def run_subnet(args, subnet: str) -> tuple[list[str], str]:
    """Both miners of one subnet, measured in alternating windows (neurons/loadtest.py): (table rows, summary line)."""
    from neurons.loadtest import LoadTest, compare

    miner = {"model": MODELS[subnet], "device": args.device, "batch_max_rows": args.max_rows,
             "batch_max_wait_ms": args.max_wait_ms}
    test = LoadTest(subnet, {k: v for k, v in miner.items() if v is not None}, validators=args.validators,
                    rows=args.rows, seconds=args.seconds, rounds=args.rounds, timeout=args.timeout)
    load0 = os.getloadavg()[0]
    res = compare(test, progress=lambda line: print(f"{subnet}: {line}", flush=True))
    device, base = res.device, res.modes["unbatched"]
    print(f"{subnet}: torch threads: unbatched {res.threads['unbatched']}, batched {res.threads['batched']}; "
          f"{os.cpu_count()} cores, load average {load0:.1f}", flush=True)
    rows = [f"| {subnet} ({MODELS[subnet]}) | {name} | {m.rps:.1f} | {m.rows_s:.0f} | {m.p50_ms:.0f} | "
            f"{m.p99_ms:.0f} | {m.ok} | {m.failed} | **{m.rps / base.rps:.2f}×** |"
            for name, m in res.modes.items()]
    merged = res.requests / max(res.forwards, 1)
    ratio, p99 = res.ratio, res.modes["batched"].p99_ms
    floor = (f"GPU floor (>= 3× unbatched, p99 under the {args.timeout:g} s deadline): "
             f"{'meets' if ratio >= 3 and p99 < args.timeout * 1e3 else 'MISSES'}" if device.startswith("cuda")
             else f"On a CPU `batching = \"auto\"` keeps merging off, so a miner runs the unbatched row "
                  f"(batched forced on: {ratio:.2f}× here)")
    summary = (f"- {subnet}, {MODELS[subnet]} on {device}: the batched miner ran {res.forwards} forwards for "
               f"{res.requests} requests ({merged:.1f} requests per forward). {floor}. "
               f"Load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end.")
    return rows, summary


def main() -> int:
    from neurons.config.schema import MinerSection
    from neurons.loadtest import LoadTest as T  # the load test's own defaults; the miner's come from its config

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subnets", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--validators", type=int, default=T.validators)
    ap.add_argument("--rows", type=int, default=T.rows, help="rows per challenge (texts or contexts of one request)")
    ap.add_argument("--seconds", type=float, default=T.seconds, help="measuring time per axon (split over --rounds)")
    ap.add_argument("--rounds", type=int, default=T.rounds)
    ap.add_argument("--max-rows", type=int, default=None, help="--miner.batch_max_rows (default: the miner's)")
    ap.add_argument("--max-wait-ms", type=float, default=None, help="--miner.batch_max_wait_ms (default: the miner's)")
    ap.add_argument("--timeout", type=float, default=T.timeout, help="the validators' deadline per request, seconds")
    ap.add_argument("--device", default=None, help="--miner.device (default: the miner's, auto)")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_batching.md"))
    args = ap.parse_args()
    lines = ["| subnet (model) | miner | requests/s | rows/s | p50 ms | p99 ms | answered | failed | vs unbatched |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    summaries = []
    for subnet in args.subnets:
        rows, summary = run_subnet(args, subnet)
        lines += rows
        summaries.append(summary)
    md, summary = "\n".join(lines), "\n".join(summaries)
    print("\n" + md + "\n\n" + summary)
    miner = MinerSection(**{k: v for k, v in (("batch_max_rows", args.max_rows),
                                              ("batch_max_wait_ms", args.max_wait_ms)) if v is not None})
    cmd = "python bench/batching.py " + " ".join(sys.argv[1:])
    notes = args.out.read_text().partition(NOTES)[2] if args.out.exists() else ""
    args.out.write_text(_REPORT.format(cmd=cmd.strip(), table=md, summary=summary, cores=os.cpu_count(),
                                       python=platform.python_version(), max_rows=miner.batch_max_rows,
                                       max_wait=miner.batch_max_wait_ms, validators=args.validators, rows=args.rows)
                        + (NOTES + notes if notes else ""))
    print(f"wrote {args.out}")
    return 0


NOTES = "\n## Notes"  # hand-written below this heading; a rerun keeps it

_REPORT = """# Miner batching: {validators} concurrent validators against one miner

Command: `{cmd}` (python {python}, {cores} cores, shared with other jobs: figures are noisy,
compare the ratio). Per subnet, two miner processes serve its reference model as `neuron miner`
sets it up (MiniLM for text-embedding, SmolLM2-135M for text-next-token); each validator sends one
challenge of {rows} rows (texts, or 32-token contexts) after another;
the validators query one, then the other, in alternating windows of the same run. "unbatched":
batching off, one forward per request in the axon's handler slots (one torch thread each).
"batched": batching on (neurons/batching.py), concurrent requests merged into one forward (at most
{max_rows} rows, waiting at most {max_wait:g} ms) that gets every core. Latency is one request, signed, sent and
answered; requests/s counts verified answers.

{table}

{summary}
"""

if __name__ == "__main__":
    sys.exit(main())
