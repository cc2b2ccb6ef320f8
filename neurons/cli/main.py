"""The `neuron` command: one sub-command per module under neurons/cli/.

Each command module exposes HELP (one line), add_arguments(parser) and run(args) -> int.
Modules keep heavy imports (torch, grpc, substrate) inside run() so `neuron --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from neurons.cli.errors import CLIError

# (command, module); a module not installed in this build is left out of the listing
COMMANDS: list[tuple[str, str]] = [
    ("wallet", "neurons.cli.wallet"),
    ("config", "neurons.cli.config"),
    ("register", "neurons.cli.register"),
    ("miner", "neurons.cli.miner"),
    ("bench", "neurons.cli.bench"),
    ("validator", "neurons.cli.validator"),
    ("query", "neurons.cli.query"),
    ("localnet", "neurons.cli.localnet"),
    ("subnet", "subnets.cli"),
    ("transfer", "neurons.cli.transfer"),
    ("stake", "neurons.cli.stake"),
    ("simulate", "neurons.cli.simulate"),
    ("audit", "neurons.cli.audit"),
    ("metagraph", "neurons.cli.metagraph"),
    ("demo", "neurons.cli.demo"),
]


__all__ = ["main", "build_parser", "CLIError", "COMMANDS"]


class _Broken:
    """Stands in for a command module that fails to import: `neuron --help` still works, the command says why."""

    def __init__(self, module: str, error: Exception):
        self.HELP = f"(unavailable: {type(error).__name__}: {error})"[:100]
        self._error = f"{module} failed to import: {type(error).__name__}: {error}"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace) -> int:
        raise CLIError(self._error, hint="reinstall opensubnet (`pip install -e .`), or run with -v for the traceback")


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:  # command not shipped in this build
            return None
        return _Broken(module, e)
    except Exception as e:  # noqa: BLE001 - one broken command must not take down the others
        return _Broken(module, e)


def build_parser() -> argparse.ArgumentParser:
    loaded = [(name, mod) for name, module in COMMANDS if (mod := _load(module)) is not None]
    width = max((len(name) for name, _ in loaded), default=0) + 2
    listing = "\n".join(f"  {name:<{width}}{' '.join(mod.HELP.split())}" for name, mod in loaded)
    parser = argparse.ArgumentParser(
        prog="neuron",
        usage="neuron [-h] [-v] COMMAND ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # one line per command, never wrapped
        description=f"opensubnet: run miners, validators and local subnets.\n\ncommands:\n{listing}",
        epilog="Run `neuron COMMAND --help` for a command's options. Settings come from flags,\n"
               "OPENSUBNET_SECTION__KEY env vars and opensubnet.toml (see `neuron config show`).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS, prog="neuron")
    for name, mod in loaded:
        p = sub.add_parser(name, description=mod.HELP)
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
        show_hint = hint and hint not in str(e)
        print(f"error: {e}" + (f"\n  -> {hint}" if show_hint else ""), file=sys.stderr)
        return 2 if isinstance(e, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
