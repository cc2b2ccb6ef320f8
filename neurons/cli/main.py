"""The `neuron` command: one sub-command per module under neurons/cli/.

Each command module exposes HELP (one line), add_arguments(parser) and run(args) -> int.
Modules keep heavy imports (torch, grpc, substrate) inside run() so `neuron --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (command, module, one-line help shown when the module is missing)
COMMANDS: list[tuple[str, str]] = [
    ("wallet", "neurons.cli.wallet"),
    ("config", "neurons.cli.config"),
    ("register", "neurons.cli.register"),
    ("miner", "neurons.cli.miner"),
    ("validator", "neurons.cli.validator"),
    ("query", "neurons.cli.query"),
    ("localnet", "neurons.cli.localnet"),
    ("subnet", "neurons.cli.subnet"),
    ("simulate", "neurons.cli.simulate"),
    ("audit", "neurons.cli.audit"),
    ("metagraph", "neurons.cli.metagraph"),
    ("demo", "neurons.cli.demo"),
]


class CLIError(Exception):
    """An error whose message tells the user what to do next; printed without a traceback."""


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:  # command not shipped in this build
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuron",
        description="opensubnet: run miners, validators and local subnets.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS:
        mod = _load(module)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI boundary: one line, not a traceback
        if args.verbose:
            raise
        hint = getattr(e, "hint", None)
        print(f"error: {e}" + (f"\n  -> {hint}" if hint else ""), file=sys.stderr)
        return 2 if isinstance(e, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
