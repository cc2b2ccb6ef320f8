"""Incentive integrity: what noise, copiers, twins, memorisers and routing earn, before and after.

    python bench/incentives.py [--before-ref REV | --before-tree DIR] [--steps 1500] [--skip-builtins]

Synthetic runs (a regression task: miners answer the target plus noise) drive the validator's MoE
as the loop does: route, learn, score, EMA, weights. "Before" is the same scenario on the code of
another tree (default: `git archive BEFORE_REF`, the last commit before the issue-13 work, exported
to a temporary directory), "after" is this working tree; each scenario runs in its own process per tree. The built-in subnets
then go through `neuron subnet eval NAME --adversaries` (this tree only: the tool is new).
Writes bench/results_incentives.md; `python bench/collect.py` copies it into bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE_REF = "c129818"  # the last commit before per-input routing, Shapley by default and the lower bound

# ---------------------------------------------------------------------- one scenario, in a child process


def _child(scenario: str, steps: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from neurons.validator.moe import MoE

    def make_moe(n: int, top_k: int, explore: int, method: str, seed: int = 0):
        try:  # this tree: the one config
            from neurons.config.schema import NeuronConfig
            cfg = NeuronConfig(gate={"top_k": top_k, "explore": explore}, scoring={"method": method})
        except Exception:  # older trees: the validator's own config module
            from neurons.validator.config import GateConfig, MoEConfig, ScoringConfig
            cfg = MoEConfig(gate=GateConfig(top_k=top_k, explore=explore), scoring=ScoringConfig(method=method))
        return MoE(4, [f"hk{i}" for i in range(n)], cfg, seed=seed)

    class Ch:
        def __init__(self, seed, batch=64, domains=False):
            g = torch.Generator().manual_seed(seed)
            self.x, self.y = torch.randn(batch, 4, generator=g), torch.randn(batch, 8, generator=g)
            if domains:  # two input domains, told apart by the sign of x0 (|x0| >= 1)
                self.x[:, 0] = torch.sign(self.x[:, 0]) * (1 + self.x[:, 0].abs())

    class Spec:
        batched_weights = True

        def features(self, ch):
            return ch.x

        def combine(self, outputs, weights):
            return torch.einsum("...bk,kbd->...bd", weights, torch.stack([o["y"] for o in outputs]))

        def loss(self, mixture, ch):
            return ((mixture - ch.y) ** 2).mean(-1)

        def null_loss(self, ch):
            return (ch.y ** 2).mean(-1)

    class Model:  # deterministic: two miners running it give identical answers
        def __init__(self, noise, model, noise_neg=None):
            self.noise, self.model, self.neg = noise, model, noise if noise_neg is None else noise_neg

        def answer(self, ch):
            g = torch.Generator().manual_seed(self.model * 1_000_003 + int(ch.x.abs().sum() * 1e4))
            std = torch.where(ch.x[:, :1] > 0, self.noise, self.neg)
            return {"y": ch.y + std * torch.randn(ch.y.shape, generator=g)}

    class Copier:
        def __init__(self, victim):
            self.victim = victim

        def answer(self, ch):
            return self.victim.answer(ch)

    class Refused:
        def answer(self, ch):
            return None

    class Noise:
        def __init__(self, seed):
            self.g = torch.Generator().manual_seed(seed)

        def answer(self, ch):
            return {"y": torch.randn(ch.y.shape, generator=self.g)}

    spec = Spec()

    def run(miners, n_steps, top_k=2, explore=1, method="shapley", domains=False):
        moe = make_moe(len(miners), top_k, explore, method)
        serving = torch.ones(len(miners), dtype=torch.bool)
        for s in range(n_steps):
            ch = Ch(s, domains=domains)
            route = moe.select(ch.x, serving)
            moe.learn(spec, ch, ch.x, route, [miners[int(u)].answer(ch) for u in route.uids])
        return moe

    if scenario == "noise":
        honest = [Model(0.8 + 0.02 * i, i) for i in range(16)]  # similar, noisy: each adds little
        w = run(honest + [Noise(100 + i) for i in range(14)], steps, top_k=4).weights()
        return {"noise_total": float(w[16:].sum()), "noise_max": float(w[16:].max()), "honest": float(w[:16].sum())}
    if scenario.startswith("copy-"):
        method, n = scenario.removeprefix("copy-"), 300
        a, b, c = Model(0.3, 1), Model(0.6, 2), Model(0.9, 3)
        lone = run([a, b, c], n, method=method).weights()
        twins = run([a, Model(0.3, 1), b, c], n, method=method).weights()
        copied = run([a, Copier(a), b, c], n, method=method).weights()
        refused = run([a, Refused(), b, c], n, method=method).weights()
        return {"lone": float(lone[0]), "twin_min": float(min(twins[0], twins[1])), "victim": float(copied[0]),
                "copier": float(copied[1]), "victim_refused": float(refused[0]), "honest_copied": float(copied[[0, 2, 3]].sum())}
    if scenario == "routing":
        miners = [Model(0.1, 1, 1.5), Model(1.5, 2, 0.1)] + [Model(0.6 + 0.1 * i, 3 + i) for i in range(4)]
        moe = run(miners, 150, domains=True)
        serving, reached, mixed, oracle = torch.ones(6, dtype=torch.bool), [], [], []
        for s in range(8):
            ch = Ch(50_000 + s, domains=True)
            route = moe.select(ch.x, serving, explore=False)
            right = torch.where(ch.x[:, 0] > 0, 0, 1)
            outs = [m.answer(ch) for m in miners]
            rows = getattr(route, "rows", None)
            if rows is None:  # batch-level routing: every routed miner answers every row
                rows = torch.ones(ch.x.shape[0], len(route), dtype=torch.bool)
            reached.append(((route.uids.unsqueeze(0) == right.unsqueeze(1)) & rows).any(1).float().mean())
            mixture, _ = moe.mix(spec, ch.x, route, [outs[int(u)] for u in route.uids])
            mixed.append(spec.loss(mixture, ch).mean())
            oracle.append(torch.where(right == 0, spec.loss(outs[0]["y"], ch), spec.loss(outs[1]["y"], ch)).mean())
        return {"reached": float(torch.stack(reached).mean()),
                "ratio": float(torch.stack(mixed).mean() / torch.stack(oracle).mean())}
    raise ValueError(scenario)


def run_scenario(tree: Path, scenario: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = f"import sys, json; sys.path.insert(0, {str(tree)!r}); sys.path.insert(1, {str(ROOT / 'bench')!r}); " \
           f"import incentives; print(json.dumps(incentives._child({scenario!r}, {steps})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode:
        raise RuntimeError(f"{scenario} on {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def export(ref: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="incentives-before-"))
    archive = subprocess.run(["git", "archive", ref, "neurons", "protocol", "chain"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    tar_path = tmp / "head.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as t:
        t.extractall(tmp, filter="data")
    return tmp


def builtin_adversaries(name: str, steps: int) -> tuple[list[dict], list[str], float]:
    import torch

    from subnets.evaluate import evaluate_adversaries
    from subnets.registry import get

    torch.set_num_threads(2)
    t = time.perf_counter()
    rows, failures = evaluate_adversaries(get(name), steps=steps, batch_size=16)
    return rows, failures, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before-ref", default=BEFORE_REF, help=f"git revision of the code before (default {BEFORE_REF})")
    p.add_argument("--before-tree", type=Path, help="a directory with the code before, instead of --before-ref")
    p.add_argument("--steps", type=int, default=1500, help="validator steps of the 30-miner noise run")
    p.add_argument("--builtin-steps", type=int, default=40, help="validator steps of each built-in --adversaries run")
    p.add_argument("--skip-builtins", action="store_true")
    args = p.parse_args()
    before = args.before_tree or export(args.before_ref)
    res = {}
    for label, tree in (("before", before), ("after", ROOT)):
        for sc in ("noise", "copy-loo", "copy-shapley", "routing"):
            t = time.perf_counter()
            res[label, sc] = run_scenario(tree, sc, args.steps)
            print(f"{label} {sc}: {res[label, sc]} ({time.perf_counter() - t:.0f}s)", flush=True)
    b, a = res["before", "copy-loo"], res["after", "copy-shapley"]
    nb, na = res["before", "noise"], res["after", "noise"]
    rb, ra = res["before", "routing"], res["after", "routing"]
    pct = lambda x: f"{100 * x:.2f}%"
    lines = [
        "## Incentive integrity: what attackers and honest miners earn (issue 13)", "",
        f"Command: `python bench/incentives.py` (before = `git archive {args.before_ref}`: batch-mean routing, leave-one-out, "
        f"clipped-mean EMA; after = this tree: per-input routing, Shapley with identical answers split, lower "
        f"confidence bound). Synthetic task: 8-d regression, batch 64, miners answer the target plus Gaussian noise; "
        f"weights are the validator's `moe.weights()` (share of the total). Machine: 2 CPUs shared with other jobs.", "",
        "| adversary / case | weight earned before | after | honest miners' weight before | after | target |",
        "|---|---|---|---|---|---|",
        f"| 14 pure-noise miners among 30, {args.steps} steps (all 14) | {pct(nb['noise_total'])} | {pct(na['noise_total'])} "
        f"| {pct(nb['honest'])} | {pct(na['honest'])} | <= 2% |",
        f"| the same, largest single noise miner | {pct(nb['noise_max'])} | {pct(na['noise_max'])} | | | <= 0.5% |",
        f"| relaying copier (with a permit) of the best miner, 300 steps | {b['copier']:.3f} | {a['copier']:.3f} "
        f"| victim {b['victim']:.3f} (alone {b['lone']:.3f}) | victim {a['victim']:.3f} (alone {a['lone']:.3f}) "
        f"| copier <= victim (fair share) |",
        f"| copier without a permit (relay refused) | 0 | 0 | victim keeps {b['victim_refused'] / b['lone']:.0%} "
        f"| victim keeps {a['victim_refused'] / a['lone']:.0%} | >= 80% |",
        f"| twin: a second miner running the same model | — | — | each keeps {b['twin_min'] / b['lone']:.0%} of a lone "
        f"miner's weight | {a['twin_min'] / a['lone']:.0%} | >= 40% |",
        f"| routing: two specialists, top_k 2 (inputs reaching the right one) | — | — | {rb['reached']:.1%} "
        f"| {ra['reached']:.1%} | >= 95% |",
        f"| routing: mixture loss / per-input oracle | — | — | {rb['ratio']:.2f}x | {ra['ratio']:.2f}x | <= 1.5x |",
        "",
        f"Same scenario under the other scoring method of each tree: after with `scoring.method = \"loo\"`: copier "
        f"{res['after', 'copy-loo']['copier']:.3f}, victim {res['after', 'copy-loo']['victim']:.3f}, twins keep "
        f"{res['after', 'copy-loo']['twin_min'] / res['after', 'copy-loo']['lone']:.0%}; before with shapley: copier "
        f"{res['before', 'copy-shapley']['copier']:.3f}, victim {res['before', 'copy-shapley']['victim']:.3f}.",
    ]
    if not args.skip_builtins:
        lines += ["", f"Built-in subnets, `neuron subnet eval NAME --adversaries --steps {args.builtin_steps} "
                  "--batch-size 16` (this tree; the lookup table memorises 48 public challenges of 256 rows):", ""]
        for name in ("text-embedding", "text-next-token"):
            rows, failures, secs = builtin_adversaries(name, args.builtin_steps)
            print(name, rows, failures, flush=True)
            weakest = min(r["weight"] for r in rows if r["kind"] == "honest")
            lines += [f"`{name}` ({secs:.0f} s): " + ("**pass**" if not failures else "**FAIL**: " + "; ".join(failures)), "",
                      "| miner | kind | weight | mean contribution | lower bound |", "|---|---|---|---|---|"]
            lines += [f"| {r['miner']} | {r['kind']} | {r['weight']:.4f} | {r['contribution']:.4f} | {r['bound']:.4f} |"
                      for r in rows]
            lines += ["", f"Weakest reference miner: {weakest:.4f}.", ""]
    (ROOT / "bench" / "results_incentives.md").write_text("\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
