"""Miner batching: 8 concurrent validators against one miner, merged forwards vs one per request.

For each subnet (text-embedding with MiniLM, text-next-token with SmolLM2), two miner processes
serve its reference model, set up as `neuron miner` sets it up (neurons.miner.model_runner): "unbatched" (batching = "off": one forward per request in the
axon's handler slots, one torch thread each) and "batched" (batching = "on", neurons/batching.py:
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
import asyncio
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

MINER_URI = "//BenchBatchMiner"
MODELS = {"text-embedding": "minilm", "text-next-token": "smollm2"}  # subnet -> its best reference miner


def validator_uri(i: int) -> str:
    return f"//BenchBatchValidator{i}"


def miner(args, subnet: str, mode: str, conn) -> None:
    asyncio.run(_miner(args, subnet, mode, conn))


async def _miner(args, subnet: str, mode: str, conn) -> None:
    """One miner process: the subnet's model behind an axon, run as `neuron miner` runs it with batching off or on."""
    import torch
    from substrateinterface import Keypair

    from neurons.axon import Axon, CallerInfo
    from neurons.config.schema import AxonSection, NeuronConfig
    from neurons.miner import axon_section, make_forward, model_runner
    from neurons.runtime import prepare_to_serve
    from subnets.registry import get

    torch.set_num_threads(1)  # as `neuron miner` does: one torch thread per handler slot (batched: see model_runner)
    spec = get(subnet)
    model = spec.miners()[MODELS[subnet]](0)
    cfg = NeuronConfig(miner={"device": args.device, "batching": "on" if mode == "batched" else "off",
                              "batch_max_rows": args.max_rows, "batch_max_wait_ms": args.max_wait_ms})
    device, batcher = model_runner(cfg, spec, model)
    kp = Keypair.create_from_uri(MINER_URI)
    table = {Keypair.create_from_uri(validator_uri(i)).ss58_address: CallerInfo(i, 100.0, True)
             for i in range(args.validators)}
    section = AxonSection(rate_per_s=1e6, burst=1e6, max_inflight_per_caller=1024)  # concurrency: the CPU count
    axon = Axon(kp, caller_info=table.get, config=axon_section(section, batcher))
    axon.attach(spec.synapse, make_forward(spec, model, device, batcher))
    port = await axon.start()
    prepare_to_serve()
    conn.send({"hotkey": kp.ss58_address, "port": port, "device": str(device), "threads": torch.get_num_threads()})
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    conn.send({"forwards": batcher.forwards, "requests": batcher.requests} if batcher else {})
    await axon.stop(0)
    if batcher is not None:
        await batcher.close()


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))] if xs else float("nan")


async def validators(info, args, subnet: str) -> dict:
    from substrateinterface import Keypair

    from neurons.dendrite import Dendrite, Endpoint
    from subnets.registry import get

    spec = get(subnet)
    challenges = [spec.challenge(seed, args.rows).request for seed in range(32)]
    dendrites = [Dendrite(Keypair.create_from_uri(validator_uri(i))) for i in range(args.validators)]
    stats = {name: {"lat": [], "ok": 0, "failed": 0, "busy": 0.0} for name in info}

    async def one_validator(i: int, ep, st, until: float) -> None:
        k = i
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            [r] = await dendrites[i].query([ep], spec.synapse, challenges[k % len(challenges)], timeout=args.timeout)
            k += args.validators
            if r.ok:
                st["lat"].append(time.perf_counter() - t0)
                st["ok"] += 1
            else:
                st["failed"] += 1

    async def window(name: str, seconds: float) -> None:
        ep = Endpoint(info[name]["hotkey"], "127.0.0.1", info[name]["port"])
        t0 = time.perf_counter()
        await asyncio.gather(*(one_validator(i, ep, stats[name], t0 + seconds) for i in range(args.validators)))
        stats[name]["busy"] += time.perf_counter() - t0

    for name in info:  # warm-up: channels, streams, the model's first forwards
        await window(name, 1.0)
        stats[name].update(lat=[], ok=0, failed=0, busy=0.0)
    for _ in range(args.rounds):
        for name in info:
            await window(name, args.seconds / args.rounds)
    for d in dendrites:
        await d.close()
    return {name: {"rps": st["ok"] / st["busy"], "rows_s": st["ok"] * args.rows / st["busy"],
                   "p50_ms": percentile(st["lat"], 50) * 1e3, "p99_ms": percentile(st["lat"], 99) * 1e3,
                   "ok": st["ok"], "failed": st["failed"]} for name, st in stats.items()}


def run_subnet(args, subnet: str) -> tuple[list[str], str]:
    """Both miners of one subnet, measured in alternating windows: (table rows, summary line)."""
    ctx = mp.get_context("spawn")
    procs, pipes, info = {}, {}, {}
    for mode in ("unbatched", "batched"):
        pipes[mode], child = ctx.Pipe()
        procs[mode] = ctx.Process(target=miner, args=(args, subnet, mode, child), daemon=True)
        procs[mode].start()
    for mode in procs:
        info[mode] = pipes[mode].recv()
    device = info["batched"]["device"]
    load0 = os.getloadavg()[0]
    print(f"{subnet}: miners up on {device} (torch threads: unbatched {info['unbatched']['threads']}, batched "
          f"{info['batched']['threads']}); {os.cpu_count()} cores, load average {load0:.1f}", flush=True)
    try:
        res = asyncio.run(validators(info, args, subnet))
    finally:
        for mode in procs:
            pipes[mode].send("stop")
        counts = pipes["batched"].recv() if pipes["batched"].poll(30) else {}
        for p in procs.values():
            p.join(10)
    counts = {"forwards": 0, "requests": 0, **counts}
    base = res["unbatched"]
    rows = [f"| {subnet} ({MODELS[subnet]}) | {name} | {m['rps']:.1f} | {m['rows_s']:.0f} | {m['p50_ms']:.0f} | "
            f"{m['p99_ms']:.0f} | {m['ok']} | {m['failed']} | **{m['rps'] / base['rps']:.2f}×** |"
            for name, m in res.items()]
    merged = counts["requests"] / max(counts["forwards"], 1)
    ratio, p99 = res["batched"]["rps"] / base["rps"], res["batched"]["p99_ms"]
    floor = (f"GPU floor (>= 3× unbatched, p99 under the {args.timeout:g} s deadline): "
             f"{'meets' if ratio >= 3 and p99 < args.timeout * 1e3 else 'MISSES'}" if device.startswith("cuda")
             else f"On a CPU `batching = \"auto\"` keeps merging off, so a miner runs the unbatched row "
                  f"(batched forced on: {ratio:.2f}× here)")
    summary = (f"- {subnet}, {MODELS[subnet]} on {device}: the batched miner ran {counts['forwards']} forwards for "
               f"{counts['requests']} requests ({merged:.1f} requests per forward). {floor}. "
               f"Load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end.")
    return rows, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subnets", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--validators", type=int, default=8)
    ap.add_argument("--rows", type=int, default=8, help="rows per challenge (texts or contexts of one request)")
    ap.add_argument("--seconds", type=float, default=16.0, help="measuring time per axon (split over --rounds)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--max-rows", type=int, default=128)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=12.0, help="the validators' deadline per request, seconds")
    ap.add_argument("--device", default="auto")
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
    cmd = "python bench/batching.py " + " ".join(sys.argv[1:])
    notes = args.out.read_text().partition(NOTES)[2] if args.out.exists() else ""
    args.out.write_text(_REPORT.format(cmd=cmd.strip(), table=md, summary=summary, cores=os.cpu_count(),
                                       python=platform.python_version(), max_rows=args.max_rows,
                                       max_wait=args.max_wait_ms, validators=args.validators, rows=args.rows)
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
