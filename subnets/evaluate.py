"""Offline evaluation of a subnet's reference miners: each alone, and their equal-weight mixture;
with adversaries, the weight every miner and attacker earns from the validator's gate and scoring.

    python -m subnets.evaluate text-embedding --seeds 3 --batch-size 32
prints one row per miner (mean loss and metrics over the seeds), best first;
    python -m subnets.evaluate text-embedding --adversaries
runs the standard attackers (subnets/adversaries.py) beside the reference miners and prints the
weight share each would earn, and whether the spec passes (no attacker beats the weakest honest miner).
"""
from __future__ import annotations

import argparse
import logging
import sys

import torch

from subnets.spec import SubnetSpec

log = logging.getLogger(__name__)

COPY_SLACK = 1.1  # a permitted copier fails the check past 1.1x its victim's weight (a fair share is 1x)


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


class _StepCache:
    """A reference miner answering the same request object once per step (a copier relays to it)."""

    def __init__(self, model):
        self.model, self._last = model, None

    def forward(self, request):
        if self._last is None or self._last[0] is not request:
            self._last = (request, self.model.forward(request))
        return {k: v.clone() for k, v in self._last[1].items()}


def evaluate_adversaries(spec: SubnetSpec, steps: int = 40, batch_size: int | None = None,
                         public_batches: int = 48, seed: int = 0, config=None) -> tuple[list[dict], list[str]]:
    """(rows {"miner", "kind", "weight", "contribution", "bound"} best first, failures of the check).

    Reference miners and the standard attackers serve side by side; a validator's MoE (the one
    config's [gate] and [scoring] sections) routes each challenge row, learns and scores for
    `steps` challenges drawn from secret seeds (never among the attackers' public seeds)."""
    import random

    from neurons.config.schema import NeuronConfig
    from neurons.validator.fanout import place_outputs, sub_requests
    from neurons.validator.moe import MoE
    from subnets.adversaries import PERMITTED_COPIER, standard_adversaries

    batch_size = batch_size or spec.default_batch_size
    honest = {n: _StepCache(f(0)) for n, f in sorted(spec.miners().items())}
    probe = spec.challenge(seed + 10**9, batch_size)  # the copier's victim: the best reference miner
    loss = {n: float(spec.loss(spec.combine([m.forward(probe.request)], torch.ones(batch_size, 1)), probe).mean())
            for n, m in honest.items()}
    victim = min(loss, key=loss.get)
    attackers = standard_adversaries(spec, honest[victim], public_batches, seed)
    miners = {**honest, **attackers}
    names = list(miners)
    moe = MoE(spec.feature_dim, names, config or NeuronConfig(), seed=seed)
    serving = torch.ones(len(names), dtype=torch.bool)
    secret = random.Random(f"validator-secret-{seed}")
    for step in range(steps):
        ch = spec.challenge(secret.getrandbits(62) + public_batches, batch_size)
        feats = spec.features(ch)
        route = moe.select(feats, serving)
        reqs = sub_requests(spec, ch.request, route)
        outs = []
        for u, req in zip(route.uids.tolist(), reqs):
            out = miners[names[u]].forward(req)
            try:
                spec.validate_response(out, req)
            except (ValueError, TypeError):
                out = None
            outs.append(out)
        moe.learn(spec, ch, feats, route, place_outputs(spec, outs, route))
        log.info("adversaries: step %d/%d", step + 1, steps)
    weights, bounds = moe.weights(), moe.bounds()
    rows = [{"miner": n, "kind": "honest" if n in honest else "adversary", "weight": float(weights[i]),
             "contribution": float(moe.scores[i]), "bound": float(bounds[i])} for i, n in enumerate(names)]
    rows.sort(key=lambda r: -r["weight"])
    weakest = min(r["weight"] for r in rows if r["kind"] == "honest")
    failures = []
    for r in rows:
        if r["kind"] != "adversary":
            continue
        if r["miner"] == PERMITTED_COPIER:
            share = float(weights[names.index(victim)])
            if r["weight"] > COPY_SLACK * share + 1e-9:  # equal in expectation; routing draws differ a little
                failures.append(f"{r['miner']} earns {r['weight']:.4f}, more than its victim {victim} ({share:.4f})")
        elif r["weight"] > weakest + 1e-9:
            failures.append(f"{r['miner']} earns {r['weight']:.4f}, more than the weakest reference miner ({weakest:.4f})")
    table = attackers.get("lookup-table")
    if table is not None:
        log.info("lookup-table answered %.1f%% of the rows it was sent from memory", 100 * table.hit_rate)
    return rows, failures


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
    p.add_argument("--adversaries", action="store_true", help="run the standard attackers beside the reference miners")
    p.add_argument("--steps", type=int, default=40, help="validator steps of the --adversaries run")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.adversaries:
        return print_adversaries(get(args.subnet), args.steps, args.batch_size)
    print(format_table(evaluate(get(args.subnet), list(range(args.seeds)), args.batch_size)))
    return 0


def print_adversaries(spec: SubnetSpec, steps: int, batch_size: int | None) -> int:
    """Print the weight table and the verdict; 0 when the spec passes, 1 when an attacker earns too much."""
    rows, failures = evaluate_adversaries(spec, steps, batch_size)
    print(format_table(rows))
    for f in failures:
        print(f"FAIL  {f}")
    print(f"{spec.name}: " + ("no attacker beats the weakest reference miner" if not failures
                              else f"{len(failures)} attacker(s) paid too much; see docs/subnets.md (Incentive integrity)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
