"""Where a signed request's CPU goes: every stage of one round trip, timed in-process.

The same steps the dendrite and the axon run per request (protocol/ and the frame join both sides
do), without gRPC or asyncio, each timed with perf_counter_ns and reported as the median over
`reps` round trips. bench/fanout.py prints this table next to its CPU per request, measured in the
same run, so the rest (gRPC, HTTP/2, the event loop and process switching) is the difference.

    python bench/stages.py [--payload 1MiB] [--axons 64]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

# (stage, side, what it does); per-query stages are shared by every miner of a fan-out
STAGES = [
    ("encode body", "validator, per query", "body_parts: tensor head + a view of the payload (no copy)"),
    ("hash body", "validator, per query", "BLAKE3 of the shared body"),
    ("sign request", "validator", "header + sr25519 sign"),
    ("frame request", "validator", "join frame head, header and payload: the one copy this side makes"),
    ("parse request", "miner", "parse_frame + parse_request (views, header by upb)"),
    ("verify request", "miner", "replay check + sr25519 verify + BLAKE3 of the body"),
    ("decode body", "miner", "tensor validation + torch.frombuffer (no copy)"),
    ("sign response", "miner", "body_parts of the echo + BLAKE3 + sr25519 sign"),
    ("frame response", "miner", "join frame head, header and payload: the one copy this side makes"),
    ("parse response", "validator", "parse_frame + parse_response (views)"),
    ("verify response", "validator", "sr25519 verify + BLAKE3 of the body"),
    ("decode response", "validator", "tensor validation + torch.frombuffer (no copy)"),
]


def measure(payload_bytes: int, reps: int = 41) -> dict[str, float]:
    """Median µs per stage over `reps` round trips of one float32 tensor of payload_bytes."""
    from substrateinterface import Keypair

    from protocol import envelope, stream
    from protocol.replay import ReplayGuard

    vali, miner = Keypair.create_from_uri("//StagesValidator"), Keypair.create_from_uri("//StagesMiner")
    guard = ReplayGuard(max_entries=1 << 16)
    x = np.random.default_rng(0).standard_normal(payload_bytes // 4).astype(np.float32)
    samples: dict[str, list[int]] = {s[0]: [] for s in STAGES}
    clock = time.perf_counter_ns

    for _ in range(reps + 2):  # two warm-up round trips, dropped below
        t = [clock()]
        body = envelope.body_parts({"x": x})
        t.append(clock())
        digest = envelope.body_hash(body)
        t.append(clock())
        parts, n = envelope.request_parts(vali, synapse="echo", receiver=miner.ss58_address, body=body,
                                          body_hash=digest)
        t.append(clock())
        frame = b"".join(stream.frame_parts(1, parts, n, 2000))
        t.append(clock())
        fid, timeout_ms, payload = stream.parse_frame(frame)
        req = envelope.parse_request(payload, max_bytes=64 << 20)
        t.append(clock())
        assert envelope.verify_request(req, receiver=miner.ss58_address, guard=guard) == envelope.ReturnCode.SUCCESS
        t.append(clock())
        tensors = envelope.decode_body(req.body, max_bytes=64 << 20).tensors
        t.append(clock())
        rparts, rn = envelope.response_parts(miner, request=req, code=envelope.ReturnCode.SUCCESS,
                                             body=envelope.body_parts(tensors))
        t.append(clock())
        answer = b"".join(stream.frame_parts(fid, rparts, rn))
        t.append(clock())
        _, _, rpayload = stream.parse_frame(answer)
        resp = envelope.parse_response(rpayload, max_bytes=64 << 20)
        t.append(clock())
        ok = envelope.verify_response(resp, request_uuid=req.header.uuid, expected_signer=miner.ss58_address)
        t.append(clock())
        out = envelope.decode_body(resp.body, max_bytes=64 << 20).tensors
        t.append(clock())
        assert ok == envelope.ReturnCode.SUCCESS and out["x"].shape[0] == x.shape[0]
        for (name, *_), a, b in zip(STAGES, t, t[1:]):
            samples[name].append(b - a)
    return {name: statistics.median(v[2:]) / 1e3 for name, v in samples.items()}


def table(us: dict[str, float], axons: int, cpu_us: float | None = None, raw_cpu_us: float | None = None,
          frames_cpu_us: float | None = None) -> str:
    """Markdown: µs per request per stage (per-query stages divided over `axons`), and the rest of
    the measured CPU per request when the bench's figure is given: with the plain stream's and the
    frame layer's figures from the same run, the rest is split into the transport (the plain stream),
    the frame layer (its row minus the stream's) and what is left (the axon's and dendrite's own
    logic around the stages, and what the stages cost in a busy process beyond their in-process time)."""
    per_req = {name: us[name] / (axons if side.endswith("per query") else 1) for name, side, _ in STAGES}
    total = sum(per_req.values())
    lines = ["| stage | side | µs/req | share | what |", "|---|---|---:|---:|---|"]
    whole = cpu_us if cpu_us else total
    for name, side, what in STAGES:
        lines.append(f"| {name} | {side} | {per_req[name]:.1f} | {per_req[name] / whole:.0%} | {what} |")
    lines.append(f"| **protocol total** | both | **{total:.0f}** | {total / whole:.0%} | the stages above |")
    if cpu_us and raw_cpu_us and frames_cpu_us:
        layer = frames_cpu_us - raw_cpu_us
        rest = cpu_us - total - frames_cpu_us
        lines += [
            f"| gRPC, HTTP/2, asyncio | both | {raw_cpu_us:.0f} | {raw_cpu_us / whole:.0%} | "
            f"the plain gRPC stream's CPU/req in the same run: raw bytes echoed, the transport's own cost |",
            f"| frame layer | both | {layer:.0f} | {layer / whole:.0%} | the same bytes through the dendrite's "
            f"links and the axon's StreamSessions (the frames row, {frames_cpu_us:.0f} µs) minus the plain stream |",
            f"| the rest | both | {rest:.0f} | {rest / whole:.0%} | the bench's CPU/req ({cpu_us:.0f} µs) minus "
            f"all of the above: axon checks, dendrite calls, and the stages' cost in a busy process beyond "
            f"their in-process time |"]
    elif cpu_us:
        rest = cpu_us - total
        lines.append(f"| gRPC, HTTP/2, asyncio, scheduling | both | {rest:.0f} | {rest / whole:.0%} | "
                     f"the bench's CPU/req ({cpu_us:.0f} µs) minus the protocol total |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--payload", choices=["4KiB", "1MiB"], default="1MiB")
    ap.add_argument("--axons", type=int, default=64, help="miners sharing one query's body (per-query stages)")
    ap.add_argument("--reps", type=int, default=41)
    args = ap.parse_args()
    size = {"4KiB": 4 << 10, "1MiB": 1 << 20}[args.payload]
    print(table(measure(size, args.reps), args.axons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
