"""Validator fan-out: opensubnet gRPC (signed envelopes) vs HTTP/JSON with base64 tensors.

One validator (this process) queries 16, 64 and 256 echo miners spread over worker
processes, with 4 KiB and 1 MiB float32 tensors (echoed back, so each request moves the
payload both ways). Both stacks sign every request and response with sr25519 and check the
body hash; the baseline ships tensors the way the official SDK does (JSON, base64) over
aiohttp. Prints step latency p50/p99, requests/s and the ratio, measured in the same run.

    python bench/fanout.py            # full run (~3 min), writes bench/results_fanout.md
    python bench/fanout.py --quick    # smoke run: 16 and 64 axons, short windows, no file
Needs aiohttp for the baseline only (pip install aiohttp).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing as mp
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

PAYLOADS = {"4KiB": 4 << 10, "1MiB": 1 << 20}
VALIDATOR_URI = "//BenchValidator"


def miner_uri(i: int) -> str:
    return f"//BenchMiner{i}"


# -- HTTP/JSON baseline (both sides) -------------------------------------------------------------
def _http_preimage(caller: str, receiver: str, nonce: str, body_hash: str) -> bytes:
    return f"{caller}.{receiver}.{nonce}.{body_hash}".encode()


def _json_tensor(x: np.ndarray) -> dict:
    return {"dtype": str(x.dtype), "shape": list(x.shape), "data": base64.b64encode(x.tobytes()).decode()}


def _from_json_tensor(t: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(t["data"]), dtype=np.dtype(t["dtype"])).reshape(t["shape"])


def http_app(keypair, validator: str):
    """An aiohttp echo miner: verify the caller's signature and body hash, decode, re-encode, sign."""
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        raw = await request.read()
        h = request.headers
        if h.get("x-caller") != validator or hashlib.sha256(raw).hexdigest() != h.get("x-body-sha256"):
            return web.Response(status=401)
        pre = _http_preimage(h["x-caller"], keypair.ss58_address, h["x-nonce"], h["x-body-sha256"])
        if not _verify(h["x-caller"], pre, h["x-signature"]):
            return web.Response(status=401)
        msg = json.loads(raw)
        tensors = {k: _json_tensor(_from_json_tensor(v)) for k, v in msg["tensors"].items()}
        out = json.dumps({"tensors": tensors}).encode()
        out_hash = hashlib.sha256(out).hexdigest()
        sig = keypair.sign(_http_preimage(keypair.ss58_address, h["x-caller"], h["x-nonce"], out_hash)).hex()
        return web.Response(body=out, content_type="application/json",
                            headers={"x-body-sha256": out_hash, "x-signature": sig})

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/echo", echo)
    return app


_PUBKEYS: dict = {}


def _verify(ss58: str, preimage: bytes, sig_hex: str) -> bool:
    from substrateinterface import Keypair
    kp = _PUBKEYS.get(ss58) or _PUBKEYS.setdefault(ss58, Keypair(ss58_address=ss58))
    return kp.verify(preimage, bytes.fromhex(sig_hex))


async def http_query(session, keypair, endpoints, tensors: dict, timeout: float) -> list[bool]:
    """One signed JSON request per miner, concurrently; True where a verified echo came back."""
    import aiohttp

    body = json.dumps({"tensors": {k: _json_tensor(v) for k, v in tensors.items()}}).encode()
    body_hash = hashlib.sha256(body).hexdigest()

    async def one(hotkey: str, port: int) -> bool:
        nonce = secrets.token_hex(8)
        sig = keypair.sign(_http_preimage(keypair.ss58_address, hotkey, nonce, body_hash)).hex()
        headers = {"x-caller": keypair.ss58_address, "x-nonce": nonce, "x-body-sha256": body_hash,
                   "x-signature": sig, "content-type": "application/json"}
        try:
            async with session.post(f"http://127.0.0.1:{port}/echo", data=body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                out = await resp.read()
                if resp.status != 200 or hashlib.sha256(out).hexdigest() != resp.headers["x-body-sha256"]:
                    return False
                pre = _http_preimage(hotkey, keypair.ss58_address, nonce, resp.headers["x-body-sha256"])
                if not _verify(hotkey, pre, resp.headers["x-signature"]):
                    return False
                got = {k: _from_json_tensor(v) for k, v in json.loads(out)["tensors"].items()}
                return got.keys() == tensors.keys()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    return list(await asyncio.gather(*(one(hk, port) for hk, port in endpoints)))


# -- worker processes: opensubnet axons and HTTP miners side by side -----------------------------
def worker(indices: list[int], conn) -> None:
    asyncio.run(_worker(indices, conn))


async def _worker(indices: list[int], conn) -> None:
    from aiohttp import web
    from substrateinterface import Keypair

    from neurons import echo
    from neurons.axon import Axon, AxonConfig, CallerInfo

    validator = Keypair.create_from_uri(VALIDATOR_URI).ss58_address
    table = {validator: CallerInfo(0, 1000.0, True)}
    cfg = AxonConfig(rate_per_s=1e6, burst=1e6, max_request_bytes=8 << 20, max_response_bytes=8 << 20)
    axons, runners, out = [], [], []
    for i in indices:
        kp = Keypair.create_from_uri(miner_uri(i))
        ax = Axon(kp, caller_info=table.get, config=cfg)
        ax.attach(echo.SYNAPSE, echo.forward)
        await ax.start()
        runner = web.AppRunner(http_app(kp, validator), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        axons.append(ax)
        runners.append(runner)
        out.append((kp.ss58_address, ax.port, site._server.sockets[0].getsockname()[1]))
    conn.send(out)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # block until told to stop
    for ax in axons:
        await ax.stop(0)
    for r in runners:
        await r.cleanup()


# -- the validator -----------------------------------------------------------------------------------
def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))]


async def measure(step, n: int, seconds: float, max_steps: int) -> dict:
    """Run `step()` (one fan-out returning per-miner success flags) for ~seconds, after one warm-up."""
    await step()
    lat, ok, t_start = [], 0, time.perf_counter()
    while len(lat) < max_steps and (time.perf_counter() - t_start < seconds or len(lat) < 2):
        t0 = time.perf_counter()
        flags = await step()
        lat.append(time.perf_counter() - t0)
        ok += sum(flags)
    total = time.perf_counter() - t_start
    return {"steps": len(lat), "p50_ms": percentile(lat, 50) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
            "rps": ok / total, "success": ok / (n * len(lat))}


async def run_config(miners, n: int, payload: int, seconds: float, dendrite, session, keypair) -> dict:
    from neurons.dendrite import Endpoint

    tensors = {"x": np.random.default_rng(n).standard_normal(payload // 4).astype(np.float32)}
    eps = [Endpoint(hk, "127.0.0.1", gport, uid=i) for i, (hk, gport, _) in enumerate(miners[:n])]
    http_eps = [(hk, hport) for hk, _, hport in miners[:n]]
    timeout = 30.0

    async def grpc_step():
        return [r.ok for r in await dendrite.query(eps, "echo", tensors, timeout=timeout)]

    async def http_step():
        return await http_query(session, keypair, http_eps, tensors, timeout)

    max_steps = 2000
    g = await measure(grpc_step, n, seconds, max_steps)
    h = await measure(http_step, n, seconds, max_steps)
    return {"grpc": g, "http": h}


async def validator(miners, args) -> list[tuple]:
    import aiohttp
    from substrateinterface import Keypair

    from neurons.dendrite import Dendrite

    kp = Keypair.create_from_uri(VALIDATOR_URI)
    rows = []
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with Dendrite(kp, max_concurrency=1024) as d, aiohttp.ClientSession(connector=connector) as session:
        for n in args.axons:
            for pname in args.payloads:
                r = await run_config(miners, n, PAYLOADS[pname], args.seconds, d, session, kp)
                g, h = r["grpc"], r["http"]
                ratio = g["rps"] / h["rps"] if h["rps"] else float("inf")
                rows.append((n, pname, g, h, ratio))
                print(f"{n:4d} axons {pname:>5}: grpc p50 {g['p50_ms']:7.1f} ms p99 {g['p99_ms']:7.1f} ms "
                      f"{g['rps']:7.0f} req/s ok {g['success']:.0%} | http/json p50 {h['p50_ms']:7.1f} ms "
                      f"p99 {h['p99_ms']:7.1f} ms {h['rps']:6.0f} req/s ok {h['success']:.0%} | x{ratio:.1f}",
                      flush=True)
    return rows


def table(rows) -> str:
    lines = ["| axons | payload | stack | steps | step p50 ms | step p99 ms | req/s | success | req/s ratio |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for n, p, g, h, ratio in rows:
        for name, m, rr in (("opensubnet gRPC", g, f"**{ratio:.1f}×**"), ("HTTP/JSON base64", h, "1.0×")):
            lines.append(f"| {n} | {p} | {name} | {m['steps']} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | "
                         f"{m['rps']:.0f} | {m['success']:.1%} | {rr} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 16 and 64 axons, 1.5 s windows, no results file")
    ap.add_argument("--axons", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--payloads", nargs="+", choices=list(PAYLOADS), default=list(PAYLOADS))
    ap.add_argument("--workers", type=int, default=4, help="miner processes")
    ap.add_argument("--seconds", type=float, default=4.0, help="measuring window per stack and configuration")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_fanout.md"))
    args = ap.parse_args()
    if args.quick:
        args.axons, args.seconds = [a for a in args.axons if a <= 64], 1.5
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print("the HTTP/JSON baseline needs aiohttp: pip install aiohttp", file=sys.stderr)
        return 2
    n_max = max(args.axons)
    ctx = mp.get_context("spawn")
    pipes, procs, miners = [], [], []
    t0 = time.perf_counter()
    for w in range(args.workers):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=worker, args=(list(range(w, n_max, args.workers)), child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    for parent in pipes:
        miners += parent.recv()
    print(f"{len(miners)} miners up in {args.workers} processes ({time.perf_counter() - t0:.1f} s); "
          f"{os.cpu_count()} cores, python {platform.python_version()}", flush=True)
    try:
        rows = asyncio.run(validator(miners, args))
    finally:
        for parent in pipes:
            parent.send("stop")
        for p in procs:
            p.join(10)
    md = table(rows)
    print("\n" + md)
    if not args.quick:
        cmd = "python bench/fanout.py " + " ".join(sys.argv[1:])
        args.out.write_text(_REPORT.format(cmd=cmd.strip(), table=md, workers=args.workers,
                                           cores=os.cpu_count(), seconds=args.seconds))
        print(f"wrote {args.out}")
    return 0


_REPORT = """# Fan-out benchmark: opensubnet gRPC vs HTTP/JSON (base64)

Command: `{cmd}` — one validator process, miners in {workers} worker processes on loopback,
{cores} cores. Each stack runs the same fan-out for ~{seconds:g} s per row after one warm-up step;
every request and response is sr25519-signed and body-hashed on both stacks, and each miner
echoes the float32 tensor back (so each request moves the payload both ways). req/s counts
verified successful answers; "step" is one query to all axons.

{table}
"""

if __name__ == "__main__":
    sys.exit(main())
