"""Results of a local subnet run: a per-neuron table and a plot of incentive per miner over epochs."""
from __future__ import annotations

from pathlib import Path

from neurons.localsubnet.plan import NeuronPlan


def neuron_rows(plan: list[NeuronPlan], uids: dict[str, int], metagraph) -> list[dict]:
    rows = []
    for p in plan:
        u = uids[p.name]
        rows.append({"uid": u, "role": p.role, "name": p.name, "model": (f"{p.model}:{p.seed}" if p.seed else p.model) or "-",
                     "stake": float(metagraph.stake[u]), "incentive": float(metagraph.incentive[u]),
                     "dividends": float(metagraph.dividends[u]), "emission": float(metagraph.emission[u])})
    return rows


def format_table(rows: list[dict], unit: str = "TAO") -> str:
    """`unit`: what stake and emission are counted in (alpha, per subnet, on dTAO runtimes)."""
    head = (f"{'uid':>3}  {'role':<9} {'model':<12} {'stake ' + unit:>11} {'incentive':>9} {'dividends':>9} "
            f"{'emission ' + unit:>14}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['uid']:>3}  {r['role']:<9} {r['model']:<12} {r['stake']:>11.2f} {r['incentive']:>9.4f} "
                     f"{r['dividends']:>9.4f} {r['emission']:>14.4f}")
    return "\n".join(lines)


def plot_incentive(plan: list[NeuronPlan], uids: dict[str, int], records, path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    epochs = [r.epoch for r in records]
    miners = [p for p in plan if p.role == "miner"]
    for i, p in enumerate(miners):
        u = uids[p.name]
        ax.plot(epochs, [r.metagraph.incentive[u] for r in records], marker="osD^v<>"[i % 7],
                linestyle=["-", "--", "-.", ":"][i % 4], label=f"uid {u}: {p.model}" + (f" (seed {p.seed})" if p.seed else ""))
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("incentive (share of miner emission)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
