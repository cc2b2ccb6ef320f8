"""`neuron simulate`: run an incentive scenario through Yuma versions; write a CSV, a PNG and a table."""
from __future__ import annotations

import argparse
import logging

HELP = "simulate Yuma consensus on a scenario (weight copying, collusion, ...) and plot the outcome"
log = logging.getLogger("neuron.simulate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", nargs="?", help="built-in scenario name or a .toml/.yaml file (see --list)")
    parser.add_argument("--list", action="store_true", help="list the built-in scenarios and exit")
    parser.add_argument("--versions", default=None,
                        help="comma-separated: yuma,yuma3,yuma3-liquid,spec148 (default: the scenario's list)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the scenario's)")
    parser.add_argument("--out", default="simulate-out", help="output directory for the CSV and PNG")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from consensus.plot import plot_png
    from consensus.scenario import VERSIONS, ScenarioError, builtin_names, load
    from consensus.simulator import simulate, summary, write_csv
    from neurons.cli.errors import CLIError

    if args.list:
        for name in builtin_names():
            sc = load(name)
            print(f"{name:<22} {sc.epochs:>3} epochs  {sc.description.splitlines()[0][:90]}")
        return 0
    if not args.scenario:
        raise CLIError("give a SCENARIO (a built-in name or a .toml/.yaml file); `neuron simulate --list` shows built-ins")
    if args.epochs is not None and args.epochs < 1:
        raise CLIError(f"--epochs must be >= 1, got {args.epochs}")
    try:
        sc = load(args.scenario)
    except ScenarioError as e:
        raise CLIError(str(e)) from None
    versions = args.versions.split(",") if args.versions else sc.versions
    bad = [v for v in versions if v not in VERSIONS]
    if bad:
        raise CLIError(f"unknown version(s) {bad}; choose from {', '.join(VERSIONS)}")
    runs = []
    for v in versions:
        runs.append(simulate(sc, v, args.epochs))
        log.info("simulated %s under %s: %d epochs", sc.name, v, runs[-1].stake.shape[0])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out / f"{sc.name}.csv", out / f"{sc.name}.png"
    write_csv(runs, csv_path)
    plot_png(runs, png_path, f"{sc.name}: {runs[0].stake.shape[0]} epochs", sc.description)
    print(summary(runs))
    print(f"wrote {csv_path} and {png_path}")
    return 0
