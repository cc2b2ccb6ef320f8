"""The official Bittensor SDK as a peer: its axon and dendrite against opensubnet's, same workload, same run.

One validator queries 64 echo miners (4 worker processes each side) with a 4 KiB and a 1 MiB float32
tensor, echoed back, as bench/fanout.py does. The SDK side is bittensor 10.5.0 (the last release
with its networking) in its own virtualenv, which this script creates the first time:

    ~/.cache/opensubnet/bench-bittensor-venv   (pip install bittensor[torch]==10.5.0; PyPI must be reachable)

Its miners are `bittensor.Axon`s (FastAPI/uvicorn, each request signed and its body hashed, nonce
checked by the SDK's default verify) serving an `Echo` synapse with a `bittensor.Tensor` (msgpack +
base64 in JSON); its validator is a `bittensor.Dendrite`. The SDK driver runs under that venv's
python and takes orders over a pipe, so both stacks are measured in alternating windows of one
run and see the same machine load. Prints req/s, step p50/p99, CPU µs per request (validator and
miner processes of each stack) and the ratio; writes bench/results_peers.md.

    python bench/peers.py                     # 64 axons, 4 KiB and 1 MiB (~3 min, plus the first install)
    python bench/peers.py --axons 16 --seconds 3
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SDK_VERSION = "10.5.0"
SDK_VENV = Path(os.environ.get("OPENSUBNET_BENCH_SDK_VENV", "~/.cache/opensubnet/bench-bittensor-venv")).expanduser()
PAYLOADS = {"4KiB": 4 << 10, "1MiB": 1 << 20}


# -- both sides ------------------------------------------------------------------------------------
def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))] if xs else float("nan")


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class Window:
    """Steps (one query to n miners) run for `seconds`; latencies, verified answers and CPU of `pids`."""

    def __init__(self):
        self.lat, self.ok, self.busy, self.cpu = [], 0, 0.0, 0.0

    async def run(self, step, seconds: float, pids: list[int]) -> None:
        t_start, c_start = time.perf_counter(), cpu_seconds(pids)
        while True:
            t0 = time.perf_counter()
            self.ok += await step()
            self.lat.append(time.perf_counter() - t0)
            if time.perf_counter() - t_start >= seconds:
                break
        self.busy += time.perf_counter() - t_start
        self.cpu += cpu_seconds(pids) - c_start

    def summary(self) -> dict:
        return {"steps": len(self.lat), "p50_ms": percentile(self.lat, 50) * 1e3,
                "p99_ms": percentile(self.lat, 99) * 1e3, "rps": self.ok / max(self.busy, 1e-9),
                "cpu_us": self.cpu / max(self.ok, 1) * 1e6}


def descendants(pid: int) -> list[int]:
    """pid and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


@contextlib.contextmanager
def stopped(pids: list[int]):
    """The other stack's processes stopped (SIGSTOP) while one stack is measured, continued after.

    Idle, the SDK's processes still use about half a core of this 2-core machine (measured at start,
    see idle_cores), which would be taken from whichever stack is measured beside them."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def idle_cores(pids: list[int], seconds: float = 3.0) -> float:
    c0 = cpu_seconds(pids)
    time.sleep(seconds)
    return (cpu_seconds(pids) - c0) / seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the SDK side (runs under the SDK venv's python: imports bittensor and numpy only) ---------------------
TAG = "@@ "  # our lines on the driver's stdout (the SDK may print its own)


def echo_synapse():
    """The SDK's synapse for the echo workload (real annotations: the SDK reads them at attach time)."""
    from typing import Optional

    import bittensor as bt
    return type("Echo", (bt.Synapse,), {"__annotations__": {"x": Optional[bt.Tensor]}, "x": None})


def sdk_worker(indices: list[int], validator_ss58: str, conn) -> None:
    import types
    import typing

    import bittensor as bt
    from bittensor_wallet import Keypair

    Echo = echo_synapse()

    def forward(synapse):
        return synapse  # the tensor goes back as it came (deserialized and re-serialized by the SDK)

    def blacklist(synapse):
        return synapse.dendrite.hotkey != validator_ss58, "unknown caller"

    forward.__annotations__ = {"synapse": Echo, "return": Echo}
    blacklist.__annotations__ = {"synapse": Echo, "return": typing.Tuple[bool, str]}  # the SDK compares to Tuple

    out, axons = [], []
    for i in indices:
        kp = Keypair.create_from_uri(f"//BenchMiner{i}")
        wallet = types.SimpleNamespace(hotkey=kp, coldkeypub=kp)
        port = free_port()
        axon = bt.Axon(wallet=wallet, ip="127.0.0.1", port=port, external_ip="127.0.0.1", external_port=port)
        axon.attach(forward_fn=forward, blacklist_fn=blacklist)
        axon.start()
        axons.append(axon)
        out.append({"hotkey": kp.ss58_address, "port": port})
    time.sleep(1.0)  # uvicorn threads bind
    conn.send(out)
    conn.recv()
    for a in axons:
        a.stop()
    conn.send("stopped")
    os._exit(0)  # the SDK's logging thread reads a queue closed at interpreter exit and prints an EOFError trace


def sdk_driver(workers: int, n_max: int) -> int:
    """Serve orders from stdin, one JSON line each: {"n": miners, "payload": bytes, "seconds": s}.
    Answers one JSON line per order with the window's measurements."""
    import multiprocessing as mp

    import bittensor as bt
    import numpy as np
    import torch
    from bittensor_wallet import Keypair

    Echo = echo_synapse()
    kp = Keypair.create_from_uri("//BenchValidator")
    bt.utils.networking.get_external_ip = lambda: "127.0.0.1"  # loopback only; the SDK would ask the internet
    ctx = mp.get_context("spawn")
    pipes, procs, miners = [], [], []
    for w in range(workers):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=sdk_worker, args=(list(range(w, n_max, workers)), kp.ss58_address, child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    for parent in pipes:
        miners += parent.recv()
    miners.sort(key=lambda m: m["hotkey"])
    pids = [os.getpid()] + [p.pid for p in procs]
    dendrite = bt.Dendrite(wallet=kp)
    print(TAG + json.dumps({"ready": len(miners), "version": bt.__version__}), flush=True)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.strip():
                break
            order = json.loads(line)
            x = torch.from_numpy(np.random.default_rng(order["n"]).standard_normal(order["payload"] // 4)
                                 .astype(np.float32))
            infos = [bt.AxonInfo(version=1, ip="127.0.0.1", port=m["port"], ip_type=4, hotkey=m["hotkey"],
                                 coldkey=m["hotkey"]) for m in miners[:order["n"]]]

            async def step() -> int:
                got = await dendrite.forward(infos, Echo(x=bt.Tensor.serialize(x)), timeout=60, deserialize=False)
                return sum(s.is_success and s.x is not None and s.x.deserialize().shape == x.shape for s in got)

            w = Window()
            await step() if order.get("warm") else None
            await w.run(step, order["seconds"], pids)
            print(TAG + json.dumps(w.summary()), flush=True)

    try:
        asyncio.run(serve())
    finally:
        for parent in pipes:
            parent.send("stop")
        for parent in pipes:
            parent.poll(10) and parent.recv()
        for p in procs:
            p.join(10)
    return 0


# -- the opensubnet side and the run (project venv) ------------------------------------------------------
def ensure_sdk_venv() -> Path:
    py = SDK_VENV / "bin" / "python"
    probe = [str(py), "-c", "import bittensor, torch, sys; sys.exit(bittensor.__version__ != %r)" % SDK_VERSION]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    print(f"installing bittensor=={SDK_VERSION} into {SDK_VENV} (first run only)", flush=True)
    SDK_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True)
    # bittensor.Tensor needs torch (the SDK's [torch] extra); pip takes a local CPU wheel when one is configured
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"bittensor[torch]=={SDK_VERSION}"], check=True)
    return py


class SDK:
    """The SDK driver process: one window per order."""

    def __init__(self, py: Path, workers: int, n_max: int):
        self.proc = subprocess.Popen([str(py), __file__, "--sdk-driver", "--workers", str(workers), "--n-max",
                                      str(n_max)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "USE_TORCH": "1"})  # the SDK's Tensor is torch-backed
        self.version = self._answer()["version"]

    def _answer(self) -> dict:
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the SDK driver ({SDK_VENV}) exited; its error is above")
            if line.startswith(TAG):
                return json.loads(line[len(TAG):])

    def window(self, n: int, payload: int, seconds: float, warm: bool) -> dict:
        self.proc.stdin.write(json.dumps({"n": n, "payload": payload, "seconds": seconds, "warm": warm}) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


async def run(args, sdk: SDK, miners, pids, sdk_pids) -> list[tuple]:
    import numpy as np
    from substrateinterface import Keypair

    from neurons.dendrite import Dendrite, Endpoint
    from neurons.runtime import prepare_to_serve

    rows = []
    async with Dendrite(Keypair.create_from_uri("//BenchValidator"), max_concurrency=1024) as d:
        prepare_to_serve()
        for n in args.axons:
            eps = [Endpoint(m["hotkey"], "127.0.0.1", m["axon"], uid=i) for i, m in enumerate(miners[:n])]
            for pname in args.payloads:
                tensors = {"x": np.random.default_rng(n).standard_normal(PAYLOADS[pname] // 4).astype(np.float32)}

                async def step() -> int:
                    return sum(r.ok for r in await d.query(eps, "echo", tensors, timeout=60))

                ours, theirs = Window(), []
                await step()
                for r in range(args.rounds):  # each stack measured with the other one stopped
                    with stopped(sdk_pids):
                        await ours.run(step, args.seconds / args.rounds, pids)
                    with stopped(pids[1:]):  # our miners (this process waits for the SDK's answer)
                        theirs.append(sdk.window(n, PAYLOADS[pname], args.seconds / args.rounds, warm=r == 0))
                sdk_sum = _merge(theirs)
                rows.append((n, pname, ours.summary(), sdk_sum))
                o = rows[-1][2]
                print(f"{n:4d} axons {pname:>5}: opensubnet {o['rps']:.0f} req/s p99 {o['p99_ms']:.0f} ms "
                      f"{o['cpu_us']:.0f} µs CPU/req | SDK {sdk_sum['rps']:.1f} req/s p99 {sdk_sum['p99_ms']:.0f} ms "
                      f"{sdk_sum['cpu_us']:.0f} µs CPU/req | x{o['rps'] / max(sdk_sum['rps'], 1e-9):.1f}", flush=True)
    return rows


def _merge(windows: list[dict]) -> dict:
    """Combine the SDK's windows (each already a summary) into one, weighting by steps."""
    steps = sum(w["steps"] for w in windows)
    avg = lambda k: sum(w[k] * w["steps"] for w in windows) / max(steps, 1)  # noqa: E731
    return {"steps": steps, "p50_ms": avg("p50_ms"), "p99_ms": max(w["p99_ms"] for w in windows),
            "rps": avg("rps"), "cpu_us": avg("cpu_us")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--axons", type=int, nargs="+", default=[64])
    ap.add_argument("--payloads", nargs="+", choices=list(PAYLOADS), default=list(PAYLOADS))
    ap.add_argument("--workers", type=int, default=4, help="miner processes per stack")
    ap.add_argument("--seconds", type=float, default=8.0, help="measuring time per stack and configuration")
    ap.add_argument("--rounds", type=int, default=2, help="alternating windows per configuration")
    ap.add_argument("--out", type=Path, default=HERE / "results_peers.md")
    ap.add_argument("--sdk-driver", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n-max", type=int, default=64, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sdk_driver:
        return sdk_driver(args.workers, args.n_max)

    import multiprocessing as mp
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    import fanout  # opensubnet's echo miners, as bench/fanout.py runs them

    py = ensure_sdk_venv()
    n_max = max(args.axons)
    ctx = mp.get_context("spawn")
    pipes, procs, miners = [], [], []
    for w in range(args.workers):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=fanout.worker, args=(list(range(w, n_max, args.workers)), child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    for parent in pipes:
        miners += parent.recv()
    miners.sort(key=lambda m: m["hotkey"])
    sdk = SDK(py, args.workers, n_max)
    sdk_pids, our_pids = descendants(sdk.proc.pid), [os.getpid()] + [p.pid for p in procs]
    idle = {"sdk": idle_cores(sdk_pids), "ours": idle_cores(our_pids[1:])}
    load0 = os.getloadavg()[0]
    print(f"{len(miners)} opensubnet miners and {n_max} bittensor {sdk.version} miners up; {os.cpu_count()} cores, "
          f"load average {load0:.1f}; idle CPU: SDK {idle['sdk']:.2f} cores, opensubnet {idle['ours']:.2f}", flush=True)
    try:
        rows = asyncio.run(run(args, sdk, miners, our_pids, sdk_pids))
    finally:
        sdk.close()
        for parent in pipes:
            parent.send("stop")
        for p in procs:
            p.join(10)
    lines = ["| axons | payload | stack | steps | step p50 ms | step p99 ms | req/s | CPU µs/req | req/s vs SDK |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    verdicts = []
    for n, p, o, s in rows:
        ratio = o["rps"] / max(s["rps"], 1e-9)
        for name, m in ((f"bittensor {sdk.version} axon/dendrite", s), ("opensubnet (signed)", o)):
            lines.append(f"| {n} | {p} | {name} | {m['steps']} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {m['rps']:.1f} | "
                         f"{m['cpu_us']:.0f} | {'**%.1f×**' % ratio if m is o else '1.0×'} |")
        if p == "1MiB":
            verdicts.append(f"- {n} axons, 1 MiB: {ratio:.1f}× the SDK's req/s "
                            f"({'meets' if ratio >= 10 else 'MISSES'} the 10× floor)")
    load = f"{load0:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    md = "\n".join(lines)
    print("\n" + md + "\n\n" + "\n".join(verdicts) + f"\n\nload average {load}")
    cmd = "python bench/peers.py " + " ".join(sys.argv[1:])
    notes = args.out.read_text().partition(NOTES)[2] if args.out.exists() else ""
    args.out.write_text(_REPORT.format(cmd=cmd.strip(), table=md, floors="\n".join(verdicts), load=load,
                                       idle_sdk=idle["sdk"], idle_ours=idle["ours"],
                                       cores=os.cpu_count(), workers=args.workers, version=sdk.version,
                                       python=platform.python_version()) + (NOTES + notes if notes else ""))
    print(f"wrote {args.out}")
    return 0


NOTES = "\n## Notes"  # hand-written below this heading; a rerun keeps it

_REPORT = """# The Bittensor SDK as a peer: its axon/dendrite against opensubnet's

Command: `{cmd}` (python {python}, {cores} cores shared with other jobs, load average {load}:
absolute figures are noisy, compare the ratios). One validator process per stack, miners in
{workers} worker processes per stack, loopback; every miner echoes the float32 tensor back. The
SDK is bittensor {version} in its own virtualenv (its FastAPI axon with the default signature,
body-hash and nonce checks, a `bittensor.Tensor` in JSON; its aiohttp dendrite). Both stacks run
in alternating windows of the same run, each with the other stack's processes stopped (SIGSTOP):
idle, the SDK's processes used {idle_sdk:.2f} cores and opensubnet's {idle_ours:.2f} (measured
at start). "CPU µs/req" is the CPU time of that stack's validator and miner processes per
verified answer.

{table}

Floors (checked by the script on this run):

{floors}
"""

if __name__ == "__main__":
    sys.exit(main())
