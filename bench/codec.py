"""Tensor codec throughput against baselines measured in the same run on the same bytes.

    python bench/codec.py [--sizes 1 16 64] [--seconds 0.5] [--out bench/results_codec.md]

For each float32 tensor size: encode+decode GB/s (payload bytes / time for one encode and one
decode) of protocol.tensor next to: one copy into a new buffer (bytes(memoryview(x))), a copy
into a warm buffer (memory bandwidth), pickle, protobuf with the payload in a `bytes` field
(generated class), and base64-in-JSON. Then the full signed request path (encode_body,
build_request, parse_request, verify_request, decode_body) and the sr25519/BLAKE3 costs inside it.
Writes the markdown tables to --out.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import blake3
import google.protobuf
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocol import schema_pb2 as pb  # noqa: E402
from protocol.envelope import (  # noqa: E402
    body_parts, build_request, decode_body, parse_request, verify_request,
)
from protocol.replay import ReplayGuard  # noqa: E402
from protocol.tensor import decode, decode_numpy, encode  # noqa: E402

MiB = 1 << 20


def codec_cases(x: np.ndarray, keys) -> dict[str, Callable[[], np.ndarray | torch.Tensor | None]]:
    t = torch.from_numpy(x)
    warm = np.empty_like(x)
    shape = list(x.shape)
    alice, bob = keys
    guard = ReplayGuard(max_entries=1 << 20)

    def pb_bytes():
        m = pb.Tensor(dtype=pb.DTYPE_F32, shape=shape, raw_size=x.nbytes, data=x.tobytes())
        m2 = pb.Tensor.FromString(m.SerializeToString())
        return np.frombuffer(m2.data, np.float32).reshape(m2.shape)

    def b64_json():
        s = json.dumps({"dtype": "float32", "shape": shape, "data": base64.b64encode(x.tobytes()).decode("ascii")})
        d = json.loads(s)
        return np.frombuffer(base64.b64decode(d["data"]), np.float32).reshape(d["shape"])

    def signed_request():
        data = build_request(alice, synapse="forward", receiver=bob.ss58_address, body=body_parts({"x": x}))
        req = parse_request(data, max_bytes=1 << 31)
        assert verify_request(req, receiver=bob.ss58_address, guard=guard) == 0
        return decode_body(req.body).numpy()["x"]

    return {
        "opensubnet encode+decode_numpy": lambda: decode_numpy(encode(x)),
        "opensubnet encode+decode (torch)": lambda: decode(encode(t)),
        "signed request end to end": signed_request,
        "bytes(memoryview(x)) one new buffer": lambda: bytes(memoryview(x)),
        "copy into warm buffer": lambda: np.copyto(warm, x),
        "pickle dumps+loads": lambda: pickle.loads(pickle.dumps(x, protocol=5)),
        "protobuf bytes field": pb_bytes,
        "base64 in JSON": b64_json,
    }


FLOOR = "bytes(memoryview(x)) one new buffer"
B64 = "base64 in JSON"


def bench_codec(sizes: list[int], seconds: float, keys) -> tuple[list[str], dict[int, dict[str, float]]]:
    rng = np.random.default_rng(0)
    results: dict[int, dict[str, float]] = {}
    names: list[str] = []
    for mib in sizes:
        x = rng.standard_normal(mib * MiB // 4, dtype=np.float32).reshape(-1, 256)
        cases = codec_cases(x, keys)
        names = list(cases)
        for name, fn in cases.items():  # warm-up, and every decoder must give the input back
            out = fn()
            if isinstance(out, (np.ndarray, torch.Tensor)):
                assert np.array_equal(np.asarray(out), x), name
        best = interleaved(cases, seconds * len(cases))
        results[mib] = {name: x.nbytes / sec / 1e9 for name, sec in best.items()}
        for name in names:
            print(f"  {mib:>3} MiB  {name:<38} {results[mib][name]:8.2f} GB/s", file=sys.stderr, flush=True)
    return names, results


def interleaved(cases: dict[str, Callable[[], object]], budget: float, min_rounds: int = 5) -> dict[str, float]:
    """Best seconds per call of each case, running the cases round-robin so load changes hit all alike.

    Within a round each case runs a short burst (3 calls when a call takes < 20 ms), so its best
    call sees warm caches whatever ran before it.
    """
    best = {name: float("inf") for name in cases}
    start, rounds = time.perf_counter(), 0
    while rounds < min_rounds or (time.perf_counter() - start < budget and rounds < 500):
        for name, fn in cases.items():
            for _ in range(3 if best[name] < 0.02 else 1):
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
        rounds += 1
    return best


def bench_compression(seconds: float, mib: int = 16) -> list[tuple[str, str, str]]:
    """A compressible tensor (90% zeros, like sparse activations): wire size and encode+decode GB/s."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(mib * MiB // 4, dtype=np.float32)
    x[rng.random(x.size) < 0.9] = 0.0
    cases, sizes = {}, {}
    for c in (None, "lz4", "zstd"):
        data = encode(x, compression=c)
        assert np.array_equal(decode_numpy(data), x)
        sizes[c or "none"] = len(data) / x.nbytes
        cases[c or "none"] = lambda c=c: decode_numpy(encode(x, compression=c))
    best = interleaved(cases, seconds * len(cases))
    rows = [(c, f"{sizes[c]:.2f}", f"{x.nbytes / best[c] / 1e9:.2f}") for c in cases]
    for row in rows:
        print(f"  {mib:>3} MiB  90% zeros, compression={row[0]}: {row[1]} of raw size, {row[2]} GB/s", file=sys.stderr)
    return rows


def bench_crypto(keys, seconds: float) -> list[tuple[str, str]]:
    from substrateinterface import Keypair

    alice, _ = keys
    msg = os.urandom(200)  # about the size of a signing preimage
    sig = alice.sign(msg)
    big = os.urandom(64 * MiB)
    best = interleaved({
        "sign": lambda: alice.sign(msg),
        "verify": lambda: alice.verify(msg, sig),
        "ss58": lambda: Keypair(ss58_address=alice.ss58_address),
    }, 3 * seconds)
    best.update(interleaved({
        "blake3": lambda: blake3.blake3(big).digest(),
        "sha256": lambda: hashlib.sha256(big).digest(),
        "copy": lambda: bytes(memoryview(big)),
    }, 2 * seconds))
    return [
        ("sr25519 sign (200-byte preimage)", f"{best['sign'] * 1e6:.0f} µs"),
        ("sr25519 verify", f"{best['verify'] * 1e6:.0f} µs"),
        ("Keypair(ss58_address=...) (envelope caches it per caller)", f"{best['ss58'] * 1e6:.0f} µs"),
        ("BLAKE3 of 64 MiB (the body hash since protocol v2; hashed once by each side)",
         f"{len(big) / best['blake3'] / 1e9:.2f} GB/s"),
        ("sha256 of the same 64 MiB (protocol v1's body hash)", f"{len(big) / best['sha256'] / 1e9:.2f} GB/s"),
        ("bytes(memoryview) of the same 64 MiB", f"{len(big) / best['copy'] / 1e9:.2f} GB/s"),
    ]


def render(names: list[str], results: dict[int, dict[str, float]], comp: list[tuple[str, str, str]],
           crypto: list[tuple[str, str]], cmd: str, seconds: float) -> str:
    sizes = list(results)
    lines = [
        "# Tensor codec benchmark (bench/codec.py)",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, torch {torch.__version__}, protobuf {google.protobuf.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (other work on the machine slows every row alike)  ",
        "float32 tensors, encode+decode throughput = payload bytes / (one encode + one decode), "
        f"best of >= 5 round-robin rounds (~{seconds} s per cell). Ratios are against `bytes(memoryview(x))` "
        "(one copy into a new buffer) and base64-in-JSON, same bytes, same run. "
        "'signed request end to end' = body_parts + build_request (BLAKE3 + sr25519 sign) + parse_request "
        "+ verify_request (BLAKE3 + sr25519 verify + replay guard) + decode_body.",
        "",
        "| method | " + " | ".join(f"{m} MiB GB/s (× new-buffer, × b64-JSON)" for m in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for name in names:
        cells = []
        for m in sizes:
            r = results[m]
            cells.append(f"{r[name]:.2f} ({r[name] / r[FLOOR]:.2f}×, {r[name] / r[B64]:.0f}×)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    big = sizes[-1]
    r = results[big]
    codec = "opensubnet encode+decode_numpy"
    lines += [
        "",
        f"Floors at {big} MiB: codec / new-buffer = {r[codec] / r[FLOOR]:.2f} (need ≥ 0.5: "
        f"{'PASS' if r[codec] / r[FLOOR] >= 0.5 else 'FAIL'}); codec / base64-JSON = {r[codec] / r[B64]:.0f} "
        f"(need ≥ 10: {'PASS' if r[codec] / r[B64] >= 10 else 'FAIL'}).",
        "",
        "| compression (16 MiB float32, 90% zeros) | wire size / raw | encode+decode GB/s |",
        "|---|---|---|",
    ] + [f"| {c} | {r} | {g} |" for c, r, g in comp] + [
        "",
        "| signing-path cost | value |",
        "|---|---|",
    ] + [f"| {k} | {v} |" for k, v in crypto]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64], help="tensor sizes in MiB")
    ap.add_argument("--seconds", type=float, default=0.5, help="time budget per cell")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_codec.md"))
    args = ap.parse_args()
    from substrateinterface import Keypair

    keys = (Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob"))
    print(f"codec benchmark: sizes {args.sizes} MiB, ~{args.seconds}s per cell", file=sys.stderr)
    names, results = bench_codec(args.sizes, args.seconds, keys)
    comp = bench_compression(args.seconds)
    crypto = bench_crypto(keys, args.seconds)
    cmd = "python bench/codec.py " + " ".join(sys.argv[1:])
    table = render(names, results, comp, crypto, cmd.strip(), args.seconds)
    print(table)
    args.out.write_text(table)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
