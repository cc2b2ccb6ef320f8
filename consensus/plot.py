"""PNG of a simulation: dividends per validator (top) and incentive per miner (bottom), one column per version."""
from __future__ import annotations

import textwrap
from pathlib import Path

from .simulator import SimRun


def plot_png(runs: list[SimRun], path: Path, title: str, subtitle: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = ("-", "--", ":", "-.")  # identical series stay visible on top of each other
    k = len(runs)
    fig, axes = plt.subplots(2, k, figsize=(4.2 * k + 1.8, 6.6), sharex=True, sharey="row", squeeze=False)
    v = runs[0].n_validators
    epochs = range(runs[0].stake.shape[0])
    for c, r in enumerate(runs):
        top, bottom = axes[0, c], axes[1, c]
        for u in range(v):
            top.plot(epochs, r.dividends[:, u], label=r.names[u], lw=1.8, ls=styles[u % 4])
        for u in range(v, len(r.names)):
            bottom.plot(epochs, r.incentive[:, u], label=r.names[u], lw=1.8, ls=styles[(u - v) % 4])
        top.set_title(r.version, fontsize=12, fontweight="bold")
        bottom.set_xlabel("epoch")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
            ax.set_ylim(-0.02, 1.02)
    axes[0, 0].set_ylabel("dividends (validators)")
    axes[1, 0].set_ylabel("incentive (miners)")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, title="validators")
    axes[1, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, title="miners")
    head = title + ("\n" + textwrap.fill(subtitle, 140) if subtitle else "")
    fig.suptitle(head, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
