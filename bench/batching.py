"""Miner batching: 8 concurrent validators against one MiniLM miner, merged forwards vs one per request.

Two miner processes serve the text-embedding subnet's MiniLM model, set up as `neuron miner` sets
it up (neurons.miner.model_runner): "unbatched" (batching = "off": one forward per request in the
axon's handler slots, one torch thread each) and "batched" (batching = "on", neurons/batching.py:
concurrent requests merged into one forward, up to --max-rows rows, waiting at most --max-wait-ms;
on a CPU that one forward gets every core). The validator process runs 8 validators, each with
its own hotkey and dendrite, each sending one challenge of --rows texts after another. The two
axons are measured in alternating windows of the same run, so both see the same machine load.
Prints requests/s, texts/s, latency p50/p99 and the batched/unbatched ratio; writes
bench/results_batching.md. The device is cuda when present (the issue's floor: >= 3x on a GPU),
else cpu, where `batching = "auto"` leaves merging off and the unbatched row is what a miner runs.

    python bench/batching.py                 # ~1 min on a CPU
    python bench/batching.py --seconds 4     # shorter windows
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


def validator_uri(i: int) -> str:
    return f"//BenchBatchValidator{i}"


def miner(args, mode: str, conn) -> None:
    asyncio.run(_miner(args, mode, conn))


async def _miner(args, mode: str, conn) -> None:
    """One miner process: MiniLM behind an axon, run as `neuron miner` runs it with batching off or on."""
    import torch
    from substrateinterface import Keypair

    from neurons.axon import Axon, CallerInfo
    from neurons.config.schema import AxonSection, NeuronConfig
    from neurons.miner import axon_section, make_forward, model_runner
    from neurons.runtime import prepare_to_serve
    from subnets.text_embedding import TextEmbedding
    from subnets.text_embedding.miners import MiniLMEmbedder

    torch.set_num_threads(1)  # as `neuron miner` does: one torch thread per handler slot (batched: see model_runner)
    spec, model = TextEmbedding(), MiniLMEmbedder()
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


async def validators(info, args) -> dict:
    from substrateinterface import Keypair

    from neurons.dendrite import Dendrite, Endpoint
    from subnets.text_embedding import TextEmbedding

    spec = TextEmbedding()
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
    return {name: {"rps": st["ok"] / st["busy"], "texts_s": st["ok"] * args.rows / st["busy"],
                   "p50_ms": percentile(st["lat"], 50) * 1e3, "p99_ms": percentile(st["lat"], 99) * 1e3,
                   "ok": st["ok"], "failed": st["failed"]} for name, st in stats.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--validators", type=int, default=8)
    ap.add_argument("--rows", type=int, default=8, help="texts per challenge (rows of one request)")
    ap.add_argument("--seconds", type=float, default=16.0, help="measuring time per axon (split over --rounds)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--max-rows", type=int, default=128)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=12.0, help="the validators' deadline per request, seconds")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_batching.md"))
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    procs, pipes, info = {}, {}, {}
    for mode in ("unbatched", "batched"):
        pipes[mode], child = ctx.Pipe()
        procs[mode] = ctx.Process(target=miner, args=(args, mode, child), daemon=True)
        procs[mode].start()
    for mode in procs:
        info[mode] = pipes[mode].recv()
    device = info["batched"]["device"]
    load0 = os.getloadavg()[0]
    print(f"miners up on {device} (torch threads: unbatched {info['unbatched']['threads']}, batched "
          f"{info['batched']['threads']}); {os.cpu_count()} cores, load average {load0:.1f}", flush=True)
    try:
        res = asyncio.run(validators(info, args))
    finally:
        for mode in procs:
            pipes[mode].send("stop")
        counts = pipes["batched"].recv() if pipes["batched"].poll(30) else {}
        for p in procs.values():
            p.join(10)
    counts = {"forwards": 0, "requests": 0, **counts}
    load = f"{load0:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    base = res["unbatched"]
    lines = ["| miner | requests/s | texts/s | p50 ms | p99 ms | answered | failed | vs unbatched |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in res.items():
        lines.append(f"| {name} | {m['rps']:.1f} | {m['texts_s']:.0f} | {m['p50_ms']:.0f} | {m['p99_ms']:.0f} | "
                     f"{m['ok']} | {m['failed']} | **{m['rps'] / base['rps']:.2f}×** |")
    merged = counts["requests"] / max(counts["forwards"], 1)
    ratio, p99 = res["batched"]["rps"] / base["rps"], res["batched"]["p99_ms"]
    floor = (f"GPU floor (>= 3× unbatched, p99 under the {args.timeout:g} s deadline): "
             f"{'meets' if ratio >= 3 and p99 < args.timeout * 1e3 else 'MISSES'}" if device.startswith("cuda")
             else f"on a CPU `batching = \"auto\"` keeps merging off, so a miner runs the unbatched row "
                  f"(batched forced on: {ratio:.2f}× here)")
    md = "\n".join(lines)
    summary = (f"{args.validators} validators × {args.rows} texts per request, MiniLM on {device}; "
               f"the batched miner ran {counts['forwards']} forwards for {counts['requests']} requests "
               f"({merged:.1f} requests per forward). {floor}. Load average {load}.")
    print("\n" + md + "\n\n" + summary)
    cmd = "python bench/batching.py " + " ".join(sys.argv[1:])
    notes = args.out.read_text().partition(NOTES)[2] if args.out.exists() else ""
    args.out.write_text(_REPORT.format(cmd=cmd.strip(), table=md, summary=summary, cores=os.cpu_count(),
                                       python=platform.python_version(), max_rows=args.max_rows,
                                       max_wait=args.max_wait_ms) + (NOTES + notes if notes else ""))
    print(f"wrote {args.out}")
    return 0


NOTES = "\n## Notes"  # hand-written below this heading; a rerun keeps it

_REPORT = """# Miner batching: 8 concurrent validators against one miner

Command: `{cmd}` (python {python}, {cores} cores, shared with other jobs: figures are noisy,
compare the ratio). Two miner processes serve MiniLM (text-embedding) as `neuron miner` sets it up;
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
