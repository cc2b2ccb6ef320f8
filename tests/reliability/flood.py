"""The flood experiment, shared by tests/reliability/test_flood.py and bench/flood.py.

One real `neuron miner` (bow model, default axon limits: 50 req/s per hotkey, priority by stake,
handlers as many as cores, refusals past a small allowance held back). A registered validator
(1000 TAO) queries it at a steady rate from this process, first alone, then while two flooder
processes (an unregistered hotkey and a registered 1-TAO hotkey) send signed requests to the same
miner as fast as it answers them (at `nice`; 19 stands in for flooders on other hosts, which cannot
take the miner's CPU). Reported: the validator's latency percentiles and success rate in both
phases, what the flooders got back, and the miner's RSS before and after.
"""
from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import DevSubnet, hotkey_of, percentile, rss_kib
from neurons.dendrite import Dendrite
from neurons.localsubnet.plan import NeuronPlan
from neurons.runtime import prepare_to_serve

FLOODERS = {"unregistered": "//opensubnet/unregistered", "lowstake": "//opensubnet/lowstake"}


@dataclass
class Phase:
    sent: int = 0
    ok: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)

    @property
    def success(self) -> float:
        return self.ok / self.sent if self.sent else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q) if self.latencies_ms else float("nan")


@dataclass
class FloodResult:
    alone: Phase
    flooded: Phase
    flooders: dict[str, dict]          # name -> {"sent", "seconds", "codes"}
    miner_rss_kib: tuple[int, int, int]  # before, after the quiet phase, after the flood

    def rate(self, name: str) -> float:
        f = self.flooders[name]
        return f["sent"] / f["seconds"]


async def steady_queries(d: Dendrite, ep, body: bytes, rate: float, seconds: float) -> Phase:
    """Open loop: a request every 1/rate s (each in its own task), whatever the answers' latency."""
    phase = Phase()

    async def one():
        [r] = await d.query([ep], "TextEmbedding", body, timeout=2.0)
        phase.sent += 1
        phase.codes[r.code.name] = phase.codes.get(r.code.name, 0) + 1
        if r.ok:
            phase.ok += 1
            phase.latencies_ms.append(r.latency_s * 1e3)

    tasks, t0 = [], time.monotonic()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return phase


def run_flood(tmp: Path, *, seconds: float, rate: float, concurrency: int, nice: int = 0) -> FloodResult:
    from flooder import request_body

    plan = [NeuronPlan("validator", "validator", stake_tao=1000), NeuronPlan("miner", "lowstake", stake_tao=1),
            NeuronPlan("miner", "miner")]
    sub = DevSubnet(tmp, plan)
    try:
        miner = sub.start_miner("miner", "bow")
        sub.wait_serving(["miner"])
        ep = sub.endpoint("miner")
        body = request_body()
        switch_interval = sys.getswitchinterval()

        async def measure() -> tuple[Phase, Phase, list[int]]:
            async with Dendrite(hotkey_of("validator")) as d:
                await steady_queries(d, ep, body, rate, 1.0)                    # warm-up (channel, caches)
                rss = [rss_kib(miner.proc.pid)]
                alone = await steady_queries(d, ep, body, rate, seconds)
                rss.append(rss_kib(miner.proc.pid))
                target = f"{ep.hotkey}@{ep.host}:{ep.port}"
                for name, uri in FLOODERS.items():
                    sub.start_script(f"flood-{name}", "flooder.py", [
                        "--uri", uri, "--target", target, "--seconds", str(seconds + 4), "--concurrency",
                        str(concurrency), "--out", str(tmp / f"{name}.json"), "--ready", str(tmp / f"{name}.ready"),
                        "--nice", str(nice)])
                deadline = time.monotonic() + 60
                while not all((tmp / f"{n}.ready").exists() for n in FLOODERS):
                    if time.monotonic() > deadline or sub.children.dead():
                        raise RuntimeError("flooders did not start: " + "; ".join(c.tail(5) for c in sub.children.items))
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)                                         # flood at full speed
                flooded = await steady_queries(d, ep, body, rate, seconds)
                return alone, flooded, rss

        prepare_to_serve()  # this process plays the validator: settle it as `neuron validator` does
        try:
            alone, flooded, rss = asyncio.run(measure())
        finally:
            gc.unfreeze()
            sys.setswitchinterval(switch_interval)
        for c in sub.children.items:
            if c.name.startswith("flood-"):
                c.proc.wait(timeout=60)
        rss.append(rss_kib(miner.proc.pid))
        flooders = {n: json.loads((tmp / f"{n}.json").read_text()) for n in FLOODERS}
        return FloodResult(alone, flooded, flooders, tuple(rss))
    finally:
        sub.close()


def format_table(r: FloodResult) -> str:
    rows = [
        "| | validator p50 ms | validator p99 ms | validator success | flooders: answers/s they got (codes) |",
        "|---|---|---|---|---|",
        f"| no flood | {r.alone.p(50):.1f} | {r.alone.p(99):.1f} | {r.alone.success:.2%} ({r.alone.sent} req) | - |",
        f"| flooded | {r.flooded.p(50):.1f} | {r.flooded.p(99):.1f} | {r.flooded.success:.2%} ({r.flooded.sent} req) | "
        + "; ".join(f"{n}: {r.rate(n):.0f} ({', '.join(f'{k} {v}' for k, v in sorted(f['codes'].items()))})"
                    for n, f in r.flooders.items()) + " |",
    ]
    b, q, a = r.miner_rss_kib
    ratio = r.flooded.p(99) / r.alone.p(99)
    rows.append(f"\np99 flooded / alone = {ratio:.2f}; miner RSS {b / 1024:.0f} MiB → {q / 1024:.0f} MiB (quiet) → "
                f"{a / 1024:.0f} MiB (after flood): {(a - q) / 1024:+.1f} MiB during the flood")
    return "\n".join(rows)
