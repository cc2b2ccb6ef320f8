"""`neuron config show|files`: the effective config and where each value came from."""
from __future__ import annotations

import argparse

from neurons.config import add_config_flags, load_config

HELP = "show the effective config (TOML, secrets masked, with the source of each value)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the effective config as TOML",
                          description="Print the effective config as TOML; any flag below changes it as it would "
                                      "for every other command.")
    show.add_argument("--no-origins", action="store_true", help="leave out the '# source' comments")
    add_config_flags(show)
    files = sub.add_parser("files", help="the config files searched, in order, and the one in use")
    add_config_flags(files, [])


def run(args: argparse.Namespace) -> int:
    if args.config_action == "files":
        from neurons.config.loader import CONFIG_ENV, default_config_files, find_config_file
        used = find_config_file(args.config)
        print(f"in use: {used or 'none (defaults, env vars and flags only)'}")
        print(f"searched: --config PATH, ${CONFIG_ENV}, " + ", ".join(str(p) for p in default_config_files()))
        return 0
    from neurons.config import render_toml
    print(render_toml(load_config(args), origins=not args.no_origins), end="")
    return 0
