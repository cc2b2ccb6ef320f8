"""Drive fuzz targets under a memory cap: atheris (coverage-guided) or seeded random mutation.

    python tests/fuzz/fuzz_driver.py TARGET --engine atheris --seconds 60 --corpus DIR --artifacts DIR
    python tests/fuzz/fuzz_driver.py all --engine random --execs 300 --seed 1 --artifacts DIR --json OUT

A finding is anything but a normal return from a target (see fuzz_targets.py). Each distinct one
(exception type + innermost source line) is saved once as ARTIFACTS/TARGET/finding-<sig> with a
one-line report on stderr, and fuzzing goes on. The address-space cap (RLIMIT_AS = size after setup
+ --headroom-mb) turns any allocation beyond the decoders' limits into a MemoryError finding.
The atheris engine prints libFuzzer's statistics on stderr (bench/fuzz.py reads them); the random
engine writes a JSON summary.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INSTRUMENT = ["protocol", "neurons.config", "neurons.wallet", "tomllib"]
_INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x30, 0x22, 0x5B, 0x7B, 0x3D]
_BIG_VARINTS = [b"\xff" * 9 + b"\x01", b"\x80" * 10, b"\xff\xff\xff\xff\x0f", b"\x80\x80\x80\x80\x10"]


def cap_memory(headroom_mb: int) -> int:
    """Lower the soft address-space limit to the current size + headroom; returns the cap in bytes."""
    with open("/proc/self/status") as f:
        size_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    cap = size_kb * 1024 + headroom_mb * (1 << 20)
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    return cap


class Recorder:
    """Runs a target on one input and keeps the distinct findings."""

    def __init__(self, target, artifacts: str | None):
        self.target, self.execs, self.findings = target, 0, {}
        self.dir = os.path.join(artifacts, target.name) if artifacts else None

    def __call__(self, data: bytes) -> None:
        self.execs += 1
        try:
            self.target.run(data)
        except BaseException as e:  # noqa: BLE001  everything escaping is a finding (KeyboardInterrupt aside)
            if isinstance(e, KeyboardInterrupt):
                raise
            self._record(e, data)

    def _record(self, e: BaseException, data: bytes) -> None:
        frames = traceback.extract_tb(e.__traceback__)
        ours = [f for f in frames if f.filename.startswith(ROOT)] or frames
        where = f"{os.path.relpath(ours[-1].filename, ROOT)}:{ours[-1].lineno}" if ours else "?"
        sig = f"{type(e).__name__} at {where}"
        if sig in self.findings:
            self.findings[sig]["count"] += 1
            return
        digest = hashlib.sha1(sig.encode()).hexdigest()[:12]
        path = None
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)
            path = os.path.join(self.dir, f"finding-{digest}")
            with open(path, "wb") as f:
                f.write(data)
        self.findings[sig] = {"count": 1, "error": f"{type(e).__name__}: {str(e)[:200]}", "input": path,
                              "input_hex": data[:256].hex(), "traceback": "".join(traceback.format_tb(e.__traceback__)[-4:])}
        print(f"FINDING {self.target.name}: {sig}: {type(e).__name__}: {str(e)[:200]} (input: {path or data[:64]!r})",
              file=sys.stderr, flush=True)


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """1-4 byte-level mutations of data (bit flips, interesting bytes, varints, cuts, splices)."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        i = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[i % len(b)] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[i % len(b)] = rng.choice(_INTERESTING)
        elif op == 2:
            b[i:i + rng.randint(0, 10)] = rng.choice(_BIG_VARINTS)
        elif op == 3:
            del b[i:]
        elif op == 4:
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 5:
            del b[i:i + rng.randint(1, 32)]
        elif op == 6 and b:
            j = rng.randrange(len(b))
            b[i:i] = b[j:j + rng.randint(1, 64)]
        elif op == 7:
            other = rng.choice(pool)
            j = rng.randrange(len(other) + 1)
            b[i:] = other[j:]
        elif b:  # text-aware: a printable character (TOML, JSON, hex digits)
            b[i % len(b)] = rng.choice(b"0123456789abcdefxyz\"'[]{}=.,:-+_ \n\\eE")
    return bytes(b)


def run_random(targets: list, *, execs: int, seconds: float | None, seed: int, artifacts: str | None) -> dict:
    """Seeds first, then random bytes (1 in 10) and mutants of seeds and of earlier mutants."""
    out = {}
    for target in targets:
        rng, rec = random.Random(f"{seed}:{target.name}"), Recorder(target, artifacts)
        seeds = target.seeds()
        pool = list(seeds)
        t0 = time.perf_counter()
        for s in seeds:
            rec(s)
        while rec.execs < execs if seconds is None else time.perf_counter() - t0 < seconds:
            if rng.random() < 0.1:
                data = rng.randbytes(rng.randint(0, 300))
            else:
                data = mutate(rng, rng.choice(pool), seeds)
                if rng.random() < 0.05 and len(pool) < 256:
                    pool.append(data)
            rec(data)
        dt = time.perf_counter() - t0
        out[target.name] = {"execs": rec.execs, "seconds": dt, "execs_per_s": rec.execs / dt, "findings": rec.findings}
    return out


def run_atheris(name: str, *, seconds: int, corpus: str, artifacts: str, headroom_mb: int) -> None:
    import atheris

    with atheris.instrument_imports(include=INSTRUMENT):
        import fuzz_targets
    fuzz_targets.isolate_env()
    rec = Recorder(fuzz_targets.TARGETS[name], artifacts)
    prefix = os.path.join(artifacts, name) + os.sep
    os.makedirs(prefix, exist_ok=True)
    fuzz_targets.write_seeds(corpus, [name])  # corpus/NAME/seed-*: valid messages to mutate
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-timeout=10", "-max_len=8192", "-print_final_stats=1",
                   f"-artifact_prefix={prefix}", f"-rss_limit_mb={_rss_mb() + headroom_mb}",
                   os.path.join(corpus, name)], rec)
    cap_memory(headroom_mb)
    atheris.Fuzz()  # exits the process when the time is up


def _rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("target", help="a target name, or 'all' (random engine only)")
    p.add_argument("--engine", choices=["atheris", "random"], default="random")
    p.add_argument("--execs", type=int, default=500, help="random engine: executions per target")
    p.add_argument("--seconds", type=float, default=None, help="run for this long instead of --execs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--corpus", default=None, help="atheris: working corpus directory (default: a new temporary one)")
    p.add_argument("--artifacts", default=os.path.join(tempfile.gettempdir(), "opensubnet-fuzz"),
                   help="where findings are saved (ARTIFACTS/TARGET/finding-*)")
    p.add_argument("--headroom-mb", type=int, default=256, help="memory allowed above the size after setup")
    p.add_argument("--json", default=None, help="random engine: write the summary here")
    a = p.parse_args(argv)
    sys.path[:0] = [ROOT, HERE]
    torch_threads()
    if a.engine == "atheris":
        corpus = a.corpus or tempfile.mkdtemp(prefix="fuzz-corpus-")
        run_atheris(a.target, seconds=int(a.seconds or 60), corpus=corpus, artifacts=a.artifacts, headroom_mb=a.headroom_mb)
        return 0
    import fuzz_targets
    fuzz_targets.isolate_env()
    names = list(fuzz_targets.TARGETS) if a.target == "all" else a.target.split(",")
    targets = [fuzz_targets.TARGETS[n] for n in names]
    for t in targets:
        t.seeds()  # build (and cache) the signed seeds before the cap
    cap_memory(a.headroom_mb)
    summary = run_random(targets, execs=a.execs, seconds=a.seconds, seed=a.seed, artifacts=a.artifacts)
    text = json.dumps(summary, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text)
    else:
        print(text)
    return 1 if any(s["findings"] for s in summary.values()) else 0


def torch_threads() -> None:
    """One intra-op thread: the inputs are small, and no thread pool grows under the memory cap."""
    import torch
    torch.set_num_threads(1)


if __name__ == "__main__":
    sys.exit(main())
