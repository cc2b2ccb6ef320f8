"""Offline evaluation of a subnet's reference miners: each alone, and their equal-weight mixture.

    python -m subnets.evaluate text-embedding --seeds 3 --batch-size 32
prints one row per miner (mean loss and metrics over the seeds), best first.
"""
from __future__ import annotations

import argparse
import logging
import sys

import torch

from subnets.spec import SubnetSpec

log = logging.getLogger(__name__)


def evaluate(spec: SubnetSpec, seeds: list[int], batch_size: int,
             names: list[str] | None = None) -> list[dict]:
    """Rows {"miner", "loss", **metrics} averaged over the seeds, sorted by loss (best first)."""
    factories = spec.miners()
    names = names or sorted(factories)
    models = {}
    for n in names:
        log.info("loading reference miner %s/%s", spec.name, n)
        models[n] = factories[n](0)
    totals: dict[str, dict[str, float]] = {n: {} for n in [*names, "mixture(all)"]}
    for i, seed in enumerate(seeds):
        ch = spec.challenge(seed, batch_size)
        spec.validate_request(ch.request)
        outs = []
        for n in names:
            out = models[n].forward(ch.request)
            spec.validate_response(out, ch.request)
            outs.append(out)
        k = len(outs)
        candidates = {n: spec.combine([o], torch.ones(batch_size, 1)) for n, o in zip(names, outs)}
        candidates["mixture(all)"] = spec.combine(outs, torch.full((batch_size, k), 1 / k))
        for n, mix in candidates.items():
            row = {"loss": float(spec.loss(mix, ch).mean()), **spec.metric(mix, ch)}
            for key, v in row.items():
                totals[n][key] = totals[n].get(key, 0.0) + v / len(seeds)
        log.info("evaluated seed %d (%d/%d)", seed, i + 1, len(seeds))
    return sorted(({"miner": n, **t} for n, t in totals.items()), key=lambda r: r["loss"])


def format_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    cells = [[r[c] if isinstance(r[c], str) else f"{r[c]:.4f}" for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths))
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, cells)])


def main(argv: list[str] | None = None) -> int:
    from subnets.registry import get

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("subnet")
    p.add_argument("--seeds", type=int, default=3, help="number of challenge batches (seeds 0..N-1)")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    print(format_table(evaluate(get(args.subnet), list(range(args.seeds)), args.batch_size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
