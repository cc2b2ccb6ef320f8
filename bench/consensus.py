"""Benchmark: one Yuma epoch, vectorised run_epoch vs a straightforward dense implementation.

Usage: python bench/consensus.py [--repeat 7] [--out bench/results_consensus.md]

Data: V validators with random stake and M miners in uid space (n = V+M), dense random weights in
every row (miners' rows are masked by permits), bonds from two earlier epochs. The baseline is the
textbook dense float64 epoch: n x n masks, a Python loop over columns with one argsort each for the
weighted median. Both are measured in the same run on the same data and must agree to 1e-9.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from consensus import EpochInput, YumaParams, run_epoch  # noqa: E402
from consensus.median import weighted_median_cols  # noqa: E402

SIZES = [(64, 1024), (256, 4096)]


def _norm(x):
    s = x.sum()
    return x / s if s > 0 else np.zeros_like(x)


def _colnorm(m):
    s = m.sum(axis=0)
    return np.divide(m, s, out=np.zeros_like(m), where=s > 0)


def baseline_median(stake, w, kappa):
    """Per column: sort the stake-holding rows by weight, take the first value whose cumulative stake > sum - kappa."""
    rows = np.flatnonzero(stake > 0)
    s = stake[rows] / stake[rows].sum()
    minority = s.sum() - kappa
    out = np.zeros(w.shape[1])
    for j in range(w.shape[1]):
        col = w[rows, j]
        order = np.argsort(col)
        cum = np.cumsum(s[order])
        k = int(np.searchsorted(cum, minority, side="right"))
        out[j] = col[order[k]] if k < len(col) else col.max()
    return out


def baseline_epoch(stake_raw, weights, bonds, permit, p: YumaParams):
    """Dense Yuma epoch (current rules, no block masks), every matrix n x n."""
    n = len(stake_raw)
    stake = _norm(stake_raw)
    order = np.argsort(stake, kind="stable")
    new_permit = np.zeros(n, bool)
    new_permit[order[max(n - p.max_allowed_validators, 0):]] = True
    new_permit &= stake > 0
    act = _norm(np.where(permit, stake, 0.0))
    w = weights * permit[:, None]
    np.fill_diagonal(w, 0.0)
    rs = w.sum(axis=1, keepdims=True)
    w = np.divide(w, rs, out=np.zeros_like(w), where=rs > 0)
    c = baseline_median(act, w, p.kappa)
    clipped = np.minimum(w, c)
    ranks = act @ clipped
    incentive = _norm(ranks)
    a = p.ema_alpha
    ema = _colnorm(a * _colnorm(clipped * act[:, None]) + (1 - a) * _colnorm(bonds))
    dividends = _norm(ema @ incentive)
    mx = ema.max(axis=0)
    stored = np.divide(ema, mx, out=np.zeros_like(ema), where=mx > 0)
    out = np.where(new_permit[:, None], stored, np.where(permit[:, None], 0.0, bonds))
    return c, incentive, dividends, out


def make_case(v, m, seed=0):
    rng = np.random.default_rng(seed)
    n = v + m
    stake = np.concatenate([rng.pareto(1.5, v) + 0.01, np.zeros(m)])
    weights = rng.random((n, n))
    p = YumaParams(max_allowed_validators=v)
    res = None
    for _ in range(2):
        res = run_epoch(EpochInput(stake, weights, None if res is None else res.bonds,
                                   None if res is None else res.new_validator_permit), p)
    return stake, weights, res.bonds, res.new_validator_permit, p


def timed_pair(fast, base, repeat):
    """Alternate the two so machine load hits both alike; best of `repeat` each, in ms."""
    times, outs = ([], []), [None, None]
    for _ in range(repeat):
        for k, fn in enumerate((fast, base)):
            t = time.perf_counter()
            outs[k] = fn()
            times[k].append((time.perf_counter() - t) * 1e3)
    return min(times[0]), min(times[1]), outs[0], outs[1]


def peak_mib(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_consensus.md")))
    args = ap.parse_args(argv)
    rows = []
    for v, m in SIZES:
        n = v + m
        print(f"[{v}x{m}] n={n}: building case and warm-up epochs ...", flush=True)
        stake, w, bonds, permit, p = make_case(v, m)
        fast_ms, base_ms, res, (c, inc, div, b) = timed_pair(
            lambda: run_epoch(EpochInput(stake, w, bonds, permit), p),
            lambda: baseline_epoch(stake, w, bonds, permit, p), args.repeat)
        for name, got, want in (("consensus", res.consensus, c), ("incentive", res.incentive, inc),
                                ("dividends", res.dividends, div), ("bonds", res.bonds, b)):
            err = np.abs(got - want).max()
            assert err < 1e-9, f"{name} differs from the baseline by {err}"
        act = res.active_stake
        wn = w[:v] / w[:v].sum(axis=1, keepdims=True)
        np.fill_diagonal(wn[:, :v], 0.0)
        wn /= wn.sum(axis=1, keepdims=True)
        med_fast, med_base, m_fast, m_base = timed_pair(
            lambda: weighted_median_cols(act[:v], wn, p.kappa), lambda: baseline_median(act[:v], wn, p.kappa),
            args.repeat)
        assert np.array_equal(m_fast, m_base), "vectorised median differs from the per-column loop"
        peak = peak_mib(lambda: run_epoch(EpochInput(stake, w, bonds, permit), p))
        nn = n * n * 8 / 2**20
        rows.append((f"{v} x {m}", n, base_ms, fast_ms, base_ms / fast_ms, med_base, med_fast,
                     med_base / med_fast, peak / nn))
        print(f"  epoch: baseline {base_ms:.1f} ms, run_epoch {fast_ms:.1f} ms ({base_ms / fast_ms:.1f}x); "
              f"median alone {med_base:.1f} -> {med_fast:.1f} ms", flush=True)
    head = ("| validators x miners | n | baseline epoch ms | run_epoch ms | speed-up | "
            "median loop ms | median vectorised ms | speed-up | run_epoch peak alloc / (n x n f64) |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f}x | {r[5]:.1f} | "
                     f"{r[6]:.1f} | {r[7]:.1f}x | {r[8]:.2f} |")
    table = "\n".join(lines)
    print(table)
    cmd = "python bench/consensus.py" + (f" --repeat {args.repeat}" if args.repeat != 7 else "")
    Path(args.out).write_text(
        "## Consensus: one Yuma epoch (float64, dense weights, uid space)\n\n"
        f"Command: `{cmd}` (best of {args.repeat} runs, alternating; baseline and run_epoch in the same run, "
        "same data, outputs checked equal to 1e-9).\n"
        "Baseline: dense n x n epoch with a per-column Python loop (one argsort per column) for the "
        "weighted median. Peak alloc counts the two n x n outputs (bonds, bonds_ema_normalized).\n"
        f"Machine: {os.cpu_count()} CPUs, numpy {np.__version__}, Python {platform.python_version()} "
        "(shared with other jobs: absolute ms vary run to run, ratios less so).\n\n"
        + table + "\n")
    print(f"wrote {args.out}")
    floor_ok = rows[-1][4] >= 3.0
    print(f"floor (>= 3x at the larger size): {'OK' if floor_ok else 'MISSED'}")
    return 0 if floor_ok else 1


if __name__ == "__main__":
    sys.exit(main())
