"""Fuzz every parser that sees untrusted bytes for N seconds each; print and write a table.

    python bench/fuzz.py --seconds 60 [--target NAME] [--engine atheris|random] [--out bench/results_fuzz.md]

Targets and their checks: tests/fuzz/fuzz_targets.py (only the documented typed errors may escape,
decoded sizes stay under the limit); each runs in its own process under a memory cap
(tests/fuzz/fuzz_driver.py). The atheris engine (`pip install atheris`) is coverage-guided and
reports libFuzzer's edge coverage; without atheris the seeded random mutator runs instead and
coverage is not measured. Seed corpora are generated from valid messages into a temporary
directory; findings are saved under --artifacts and listed below the table.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "fuzz" / "fuzz_driver.py"
TARGETS = {  # name: (what it feeds, the only errors allowed out)
    "tensor": ("protocol.tensor.parse / decode / decode_numpy", "TensorDecodeError"),
    "body": ("protocol.body.decode_body + materialise tensors", "EnvelopeError"),
    "request": ("envelope.parse_request + verify_request (ReplayGuard, sr25519)", "EnvelopeError; a ReturnCode"),
    "response": ("envelope.parse_response + verify_response (sr25519)", "EnvelopeError; a ReturnCode"),
    "frame": ("stream.parse_frame, then its payload as a request", "WireError; then as request"),
    "config": ("config.loader.parse_toml + build_config -> NeuronConfig", "ConfigError"),
    "keyfile": ("wallet.keyfile.parse + unlock (cheap KDFs)", "KeyfileError"),
}


def _last(pattern: str, text: str, cast=int):
    found = re.findall(pattern, text)
    return cast(found[-1]) if found else None


def run_atheris(name: str, seconds: int, artifacts: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as corpus:
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(DRIVER), name, "--engine", "atheris", "--seconds", str(seconds),
                               "--corpus", corpus, "--artifacts", str(artifacts)],
                              capture_output=True, text=True, timeout=seconds + 600)
        wall = time.monotonic() - t0
    log = proc.stderr
    (artifacts / name).mkdir(parents=True, exist_ok=True)
    (artifacts / name / "libfuzzer.log").write_text(log)
    execs = _last(r"stat::number_of_executed_units:\s+(\d+)", log) or _last(r"#(\d+)\s", log) or 0
    crashed = [p.name for p in (artifacts / name).iterdir() if p.name.split("-")[0] in ("crash", "timeout", "oom", "leak")]
    return {
        "execs": execs, "seconds": _last(r"Done \d+ runs in (\d+) second", log) or wall,
        "execs_per_s": _last(r"stat::average_exec_per_sec:\s+(\d+)", log),
        "cov": _last(r"cov: (\d+)", log), "ft": _last(r"ft: (\d+)", log), "corpus": _last(r"corp: (\d+)/", log),
        "peak_rss_mb": _last(r"stat::peak_rss_mb:\s+(\d+)", log),
        "findings": re.findall(r"^FINDING \S+ (.*)$", log, re.M) + [f"libFuzzer {c}" for c in crashed],
        "rc": proc.returncode, "tail": log[-2000:] if proc.returncode else "",
    }


def run_random(name: str, seconds: int, artifacts: Path) -> dict:
    out = artifacts / f"{name}.json"
    proc = subprocess.run([sys.executable, str(DRIVER), name, "--engine", "random", "--seconds", str(seconds),
                           "--artifacts", str(artifacts), "--json", str(out)],
                          capture_output=True, text=True, timeout=seconds + 600)
    s = json.loads(out.read_text())[name] if out.exists() else {"execs": 0, "seconds": 0, "execs_per_s": 0, "findings": {}}
    return {**s, "execs_per_s": round(s["execs_per_s"]), "cov": None, "ft": None, "corpus": None, "peak_rss_mb": None,
            "findings": [f"{sig}: {f['error']} (input: {f['input']})" for sig, f in s["findings"].items()],
            "rc": proc.returncode, "tail": proc.stderr[-2000:] if proc.returncode not in (0, 1) else ""}


def table(results: dict, engine: str) -> str:
    rows = ["| target | parser | allowed out | executions | exec/s | coverage (edges / features) | corpus | findings |",
            "|---|---|---|---:|---:|---|---:|---:|"]
    for name, r in results.items():
        cov = f"{r['cov']} / {r['ft']}" if r["cov"] is not None else f"n/a ({engine})"
        rows.append(f"| {name} | {TARGETS[name][0]} | {TARGETS[name][1]} | {r['execs']:,} | {r['execs_per_s'] or 0:,} "
                    f"| {cov} | {r['corpus'] if r['corpus'] is not None else '-'} | {len(r['findings'])} |")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    p.add_argument("--target", choices=list(TARGETS), action="append", help="only this target (repeatable)")
    have_atheris = importlib.util.find_spec("atheris") is not None
    p.add_argument("--engine", choices=["atheris", "random"], default="atheris" if have_atheris else "random")
    p.add_argument("--artifacts", default=os.path.join(tempfile.gettempdir(), "opensubnet-fuzz"))
    p.add_argument("--out", default=str(ROOT / "bench" / "results_fuzz.md"), help="markdown file ('' to skip)")
    a = p.parse_args()
    if a.engine == "atheris" and not have_atheris:
        p.error("atheris is not installed: `pip install atheris`, or use --engine random")
    if not have_atheris:
        print("atheris not installed: using the seeded random mutator (no coverage figures)", file=sys.stderr)
    names = a.target or list(TARGETS)
    artifacts = Path(a.artifacts)
    load = os.getloadavg()[0]
    results = {}
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name}: fuzzing for {a.seconds}s with {a.engine} ...", file=sys.stderr, flush=True)
        r = (run_atheris if a.engine == "atheris" else run_random)(name, a.seconds, artifacts)
        results[name] = r
        print(f"[{i}/{len(names)}] {name}: {r['execs']:,} executions, {r['execs_per_s'] or 0:,}/s, cov {r['cov']}, "
              f"{len(r['findings'])} findings" + (f"\n{r['tail']}" if r["tail"] else ""), file=sys.stderr, flush=True)
    version = ""
    if a.engine == "atheris":
        from importlib.metadata import version as _v
        version = f" {_v('atheris')}"
    text = "\n".join([
        f"# Fuzzing the parsers that see untrusted bytes ({a.engine}{version})", "",
        f"Command: `python bench/fuzz.py {shlex.join(sys.argv[1:])}`  ", 
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f} at start; Python "
        f"{platform.python_version()}; {a.seconds} s per target, one process each, memory cap = size after setup "
        f"+ 256 MiB; every decoder runs with max_bytes = 1 MiB.", "",
        table(results, a.engine), "",
        "Coverage: libFuzzer edges / features in the instrumented Python modules (protocol, neurons.config, "
        "neurons.wallet, tomllib); compiled code (JSON in pydantic_core, sr25519, zstd/lz4, numpy, torch) is not counted.", "",
        "Findings (distinct exception type + source line; inputs under the artifacts directory):",
        *([f"- {n}: {f}" for n, r in results.items() for f in r["findings"]] or ["- none"]), "",
    ])
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    return 1 if any(r["findings"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
