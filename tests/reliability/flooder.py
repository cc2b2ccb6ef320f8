"""A flooding client: sends signed requests to one miner as fast as it can for a bounded time.

    python tests/reliability/flooder.py --uri //opensubnet/NAME --target HOTKEY@HOST:PORT \
        --seconds 5 --concurrency 32 --out result.json

Uses the real dendrite (every request signed by the flooder's own hotkey, as a real abuser's would
be), the text-embedding request a validator sends, and writes {"sent", "seconds", "codes"} as JSON.
Writes `--ready` (a file) once its first answer came back, so the measurement starts under flood.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import time
from pathlib import Path

from neurons.dendrite import Dendrite, Endpoint
from neurons.wallet import DevWallet
from protocol import envelope


def request_body(batch: int = 4) -> bytes:
    """The body a text-embedding validator sends (real tokenised stdlib docstrings and code)."""
    from subnets.text_embedding import TextEmbedding
    return envelope.encode_body(TextEmbedding().challenge(0, batch).request)


async def flood(args) -> dict:
    hotkey, _, addr = args.target.partition("@")
    host, _, port = addr.rpartition(":")
    ep = Endpoint(hotkey, host, int(port))
    body = request_body()
    codes: collections.Counter = collections.Counter()
    async with Dendrite(DevWallet(args.uri).hotkey()) as d:
        first = await d.query([ep], "TextEmbedding", body, timeout=5)
        codes[first[0].code.name] += 1
        Path(args.ready).write_text("ready")
        t0 = time.monotonic()
        end = t0 + args.seconds

        async def worker():
            while time.monotonic() < end:
                [r] = await d.query([ep], "TextEmbedding", body, timeout=2)
                codes[r.code.name] += 1

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        took = time.monotonic() - t0
    return {"sent": sum(codes.values()), "seconds": took, "codes": dict(codes)}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--target", required=True, help="HOTKEY@HOST:PORT")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--out", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority (stand-in for a remote host)")
    a = p.parse_args()
    os.nice(a.nice)
    Path(a.out).write_text(json.dumps(asyncio.run(flood(a))))
