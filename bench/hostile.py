"""Hostile input against a real axon and a real validator dendrite: attack, expected code, result, RSS growth.

    python bench/hostile.py            # every attack, each in its own process; writes bench/results_hostile.md
    python bench/hostile.py --attack NAME   # one attack, prints its row as JSON

Miner-side attacks hit a real Axon over loopback gRPC with default limits (unless a row says
otherwise); validator-side attacks are tests/reliability/hostile_miner.py answering a real Dendrite,
its answers checked as the validator does (api.checked_output). Each attack runs in a fresh process
so its RSS growth is its own; "bound" is the configured memory bound the growth must stay under.
Issue 14 (docs/security.md).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "neurons"), str(ROOT / "tests" / "reliability")]
MIB = 1 << 20


def rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- miner side -------------------------------------------------------------------------------
async def re_encoded_caller() -> dict:
    from substrateinterface import Keypair
    from hardening_kit import send_raw, serving, signed
    from neurons.validator.api_auth import OFF_SUBNET, ApiAuth, StakeBook, StakeRateLimiter
    seed = "//BenchHostileCaller"
    auth = ApiAuth(StakeBook(lambda hk: 10 * 10**9), StakeRateLimiter(1.0, 0.1, 100.0, 1.0), min_stake=1.0)
    before = rss()
    async with serving(caller_info=lambda hk: OFF_SUBNET, blacklist=auth.blacklist, verify=auth.verify,
                       priority=auth.priority, require_validator_permit=False, quick_refusal_burst=1000) as axon:
        codes = []
        for fmt in [42, 0, 2, 5, 7, 10]:
            kp = Keypair.create_from_uri(seed, ss58_format=fmt)
            codes += [(fmt, (await send_raw(axon, signed(kp))).code.name) for _ in range(4)]
    ok = sum(c == "SUCCESS" for _, c in codes)
    other = sorted({c for f, c in codes if f != 42})
    return {"result": f"{ok} of 24 served (allowance 2); other spellings: {'/'.join(other)}",
            "code": "/".join(other), "grown": rss() - before, "bound": None}


async def not_an_address() -> dict:
    from hardening_kit import send_raw, serving, signed, with_header
    from neurons.validator.api_auth import OFF_SUBNET, ApiAuth, StakeBook, StakeRateLimiter
    reads = []
    auth = ApiAuth(StakeBook(lambda hk: reads.append(hk) or 0), StakeRateLimiter(1.0, 0.1, 100.0, 1.0), min_stake=0.0)
    before = rss()
    async with serving(caller_info=lambda hk: OFF_SUBNET, blacklist=auth.blacklist, verify=auth.verify,
                       require_validator_permit=False) as axon:
        codes = {(await send_raw(axon, with_header(signed(), caller=f"nobody-{i}"))).code.name for i in range(30)}
        held = axon._tarpit.total
    return {"result": f"{'/'.join(sorted(codes))}; {len(reads)} chain reads; {held} of 30 held by the tarpit",
            "code": "/".join(sorted(codes)), "grown": rss() - before, "bound": None}


async def queued_bombs() -> dict:
    import torch
    from hardening_kit import send_raw, serving, signed
    from protocol.envelope import encode_body
    n, each = 40, 8 * MIB
    body = encode_body({"x": torch.zeros(each // 4)}, compression="zstd")
    gate = asyncio.Event()

    async def slow(call):
        await gate.wait()
        return {"n": torch.tensor([1])}
    async with serving(slow, concurrency=2, max_inflight_per_caller=64) as axon:
        bodies = [signed(body=body) for _ in range(n)]   # signed after the axon started (older ones are STALE)
        gc.collect()
        before = rss()
        tasks = [asyncio.create_task(send_raw(axon, b, 30)) for b in bodies]
        while axon.queue_depth + axon._gate.active < n and not any(t.done() for t in tasks):
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        grown = rss() - before
        gate.set()
        codes = sorted({r.code.name for r in await asyncio.gather(*tasks)})
        cfg = axon.config
    wire = len(bodies[0])
    return {"result": f"{n} requests of {wire} bytes, each inflating to {each // MIB} MiB: {'/'.join(codes)}",
            "code": "/".join(codes), "grown": grown,
            "bound": min(cfg.max_inflated_bytes, cfg.concurrency * cfg.max_request_bytes)}


async def unread_stream() -> dict:
    import grpc
    import torch
    from hardening_kit import serving, signed
    from protocol import service, stream
    answer = 128 << 10

    def big(call):
        return {"y": torch.ones(answer // 4)}
    async with serving(big, rate_per_s=1e6, burst=1e6, max_inflight_per_caller=10_000,
                       stream_send_timeout_s=2.0) as axon:
        frames = [stream.encode_frame(i + 1, signed(), timeout_ms=30_000) for i in range(800)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}") as ch:
            gc.collect()
            before = rss()
            call = service.stream_call(ch)()
            for f in frames:
                await call.write(f)
            t0 = time.monotonic()
            while not getattr(axon._streams, "timed_out", 0) and time.monotonic() - t0 < 10:
                await asyncio.sleep(0.1)
            grown = rss() - before
            ended = getattr(axon._streams, "timed_out", 0)
            call.cancel()
        cfg = axon.config
    return {"result": f"800 frames of 128 KiB answers, none read: stream {'ended' if ended else 'NOT ended'} "
                      f"after {time.monotonic() - t0:.1f} s", "code": "stream ended", "grown": grown,
            "bound": cfg.max_stream_pending_bytes + cfg.max_inflight_per_stream * answer}


async def replay_after_restart() -> dict:
    from hardening_kit import send_raw, serving, signed
    before = rss()
    async with serving() as first:
        data = signed()
        first_code = (await send_raw(first, data)).code.name
    async with serving() as second:
        code = (await send_raw(second, data)).code.name
    return {"result": f"first {first_code}, after the restart {code}", "code": code, "grown": rss() - before,
            "bound": None}


MINER_SIDE = {  # attack -> (function, expected)
    "caller re-encoded under 5 other ss58 prefixes (API allowance 2)": (re_encoded_caller, "INVALID_REQUEST"),
    "caller string that is not an address (validator API)": (not_an_address, "INVALID_REQUEST"),
    "40 zstd bombs queued for 2 handler slots": (queued_bombs, "SUCCESS"),
    "stream that never reads its answers": (unread_stream, "stream ended"),
    "request replayed after the miner restarted": (replay_after_restart, "STALE"),
}


# --- validator side ---------------------------------------------------------------------------
async def hostile_miner(attack: str) -> dict:
    """The attacker runs in its own process, so the growth measured here is the validator's alone."""
    from substrateinterface import Keypair
    from hostile_miner import _miner_key
    from neurons.dendrite import Dendrite, Endpoint
    from neurons.validator.api import checked_output
    from subnets.registry import get
    spec = get("text-embedding")
    vali, evil = Keypair.create_from_uri("//BenchHostileVali"), _miner_key()
    request = spec.request_from_text(["open a socket", "read a file"])
    max_response = 64 * MIB   # the dendrite's default
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "reliability" / "hostile_miner.py"), attack],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        port = int(proc.stdout.readline())
        async with Dendrite(vali) as d:
            gc.collect()
            before = rss()
            t0 = time.perf_counter()
            [r] = await d.query([Endpoint(evil.ss58_address, "127.0.0.1", port, 0)], spec.synapse, request,
                                timeout=2.0)
            checked_output(spec, r, request)
            took = time.perf_counter() - t0
            grown = rss() - before
    finally:
        proc.terminate()
        proc.wait(10)
    return {"result": f"{r.code.name} after {took:.2f} s (deadline 2 s)", "code": r.code.name, "grown": grown,
            "bound": max_response}


def run_one(name: str) -> dict:
    from hostile_miner import ATTACKS
    if name in MINER_SIDE:
        fn, expected = MINER_SIDE[name]
        row = asyncio.run(fn())
        side = "miner"
    else:
        row = asyncio.run(hostile_miner(name))
        expected, side = ATTACKS[name].name, "validator"
    return {"attack": name, "side": side, "expected": expected, **row}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attack", help="run one attack and print its row as JSON")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--rows", help="render the table from these rows (JSON, from --json) instead of running")
    ap.add_argument("--before", help="rows (JSON) of the same bench run on the code before issue 14, for a column")
    args = ap.parse_args()
    if args.attack:
        print(json.dumps(run_one(args.attack)))
        return
    from hostile_miner import ATTACKS
    rows = json.loads(Path(args.rows).read_text()) if args.rows else []
    for name in [] if args.rows else [*MINER_SIDE, *ATTACKS]:
        out = subprocess.run([sys.executable, __file__, "--attack", name], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
        if out.returncode != 0:
            rows.append({"attack": name, "side": "?", "expected": "?", "code": "CRASH",
                         "result": out.stderr.strip().splitlines()[-1][:120], "grown": 0, "bound": None})
        else:
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{r['attack']}: {r['result']} (RSS +{r['grown'] / MIB:.1f} MiB)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows))
    before = {r["attack"]: r for r in json.loads(Path(args.before).read_text())} if args.before else {}
    lines = ["# Hostile input (bench/hostile.py)", "",
             "Command: `python bench/hostile.py" + (" --before BEFORE.json" if before else "") + "`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"load average {os.getloadavg()[0]:.1f} at the end (other work shares the machine)  ",
             "Each attack runs in a fresh process against a real axon (miner side, default limits unless the row "
             "says otherwise) or a real validator dendrite (validator side: tests/reliability/hostile_miner.py, answers "
             "checked by api.checked_output). RSS growth is measured across the attack; the bound is the configured "
             "limit it must stay under (docs/security.md). Issue 14." + (
                 " 'Before' is the same script, same run, on the code before issue 14's fixes (the parent commit "
                 "plus the other work in the tree at the time)." if before else ""), "",
             "| side | attack | expected | result | pass | RSS growth | bound |" + (" before: result, RSS growth |" if before else ""),
             "|---|---|---|---|---|---:|---:|" + ("---|" if before else "")]
    for r in rows:
        ok = r["expected"] in r["code"].split("/") and (r["bound"] is None or r["grown"] < r["bound"])
        if r["attack"].startswith("40 zstd"):
            ok = r["code"] == "SUCCESS" and r["grown"] < r["bound"]
        bound = "—" if r["bound"] is None else f"{r['bound'] / MIB:.0f} MiB"
        lines.append(f"| {r['side']} | {r['attack']} | {r['expected']} | {r['result']} | {'PASS' if ok else 'FAIL'} "
                     f"| {r['grown'] / MIB:.1f} MiB | {bound} |" + (_before(before.get(r["attack"])) if before else ""))
    (HERE / "results_hostile.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'results_hostile.md'}")


def _before(r: dict | None) -> str:
    return " — |" if r is None else f" {r['result']}, {r['grown'] / MIB:.1f} MiB |"


if __name__ == "__main__":
    main()
