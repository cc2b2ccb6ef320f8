"""`neuron subnet`: browse, scaffold and test incentive specs (list, show, new, check, eval), and run a
subnet on a chain (create, hyperparameters, set: subnets/cli_chain.py). main.py loads this module by
name, so neurons never imports subnets."""
from __future__ import annotations

import argparse
import json

from subnets.cli_chain import add_chain_actions, run_chain_action

HELP = "subnet specs (list, show, new, check, eval) and subnets on a chain (create, hyperparameters, set)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="registered subnets (package entry points and built-ins)")
    show = sub.add_parser("show", help="a subnet's synapse, tensor shapes, hyperparameters, miners")
    show.add_argument("name", help="registered name, 'module:Class' or a .py file")
    show.add_argument("--json", action="store_true", help="print JSON")
    new = sub.add_parser("new", help="scaffold a new subnet file from the template")
    new.add_argument("name", help="subnet name, e.g. my-subnet")
    new.add_argument("--dir", default=".", help="where to write NAME.py (default: current directory)")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = sub.add_parser("check", help="run the spec round trip with every reference miner")
    check.add_argument("name")
    ev = sub.add_parser("eval", help="evaluate the reference miners offline (loss and metrics)")
    ev.add_argument("name")
    ev.add_argument("--seeds", type=int, default=3, help="number of challenge batches")
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--adversaries", action="store_true",
                    help="run standard attackers (lookup table, copiers, noise, constant) beside the reference "
                    "miners and print the weight each would earn")
    ev.add_argument("--steps", type=int, default=40, help="validator steps of the --adversaries run")
    add_chain_actions(sub)


def _list() -> int:
    from subnets.registry import available, load_class

    rows = [("NAME", "SYNAPSE", "VERSION", "CLASS")]
    for name, ref in available().items():
        try:
            cls = load_class(ref)
            rows.append((name, cls.synapse, str(cls.version), ref))
        except Exception as e:  # noqa: BLE001 - one broken plugin must not hide the others
            rows.append((name, "?", "?", f"{ref}  (cannot load: {e})"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[3])
    return 0


def _show(name: str, as_json: bool) -> int:
    from subnets.registry import get

    info = get(name).describe()
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']}  (synapse {info['synapse']} v{info['version']})\n  {info['description']}")
    for side in ("request", "response"):
        print(f"{side}:")
        for key, t in info[side].items():
            bounds = f"  in [{t['low']}, {t['high']}]" if t["low"] is not None or t["high"] is not None else ""
            print(f"  {key:12s} {t['dtype']:8s} [{', '.join(map(str, t['shape']))}]{bounds}")
    print("max dims:", ", ".join(f"{k} <= {v}" for k, v in info["max_dims"].items()))
    print("hyperparameters:", ", ".join(f"{k}={v}" for k, v in info["hyperparameters"].items()))
    print("reference miners:", ", ".join(info["miners"]))
    return 0


def _new(name: str, directory: str, force: bool) -> int:
    from subnets.check import check_subnet
    from subnets.registry import load_file
    from subnets.scaffold import names, write

    path = write(name, directory, force)
    for line in check_subnet(load_file(path)()):
        print(f"  ok  {line}")
    stem, cls = names(name)
    print(f"wrote {path}\nnext: edit it, try `neuron subnet check {path}`, then register it in your "
          f'package\'s pyproject.toml:\n  [project.entry-points."opensubnet.subnets"]\n'
          f'  {name} = "{stem}:{cls}"')
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action in ("create", "hyperparameters", "set"):
        return run_chain_action(args)
    if args.action == "list":
        return _list()
    if args.action == "show":
        return _show(args.name, args.json)
    if args.action == "new":
        return _new(args.name, args.dir, args.force)
    from subnets.registry import get

    spec = get(args.name)
    if args.action == "check":
        from subnets.check import check_subnet, memorisation_warnings

        for line in check_subnet(spec):
            print(f"  ok  {line}")
        warnings = memorisation_warnings(spec)
        for line in warnings:
            print(f"  warning  {line}")
        print(f"{spec.name}: all checks passed" + (f" with {len(warnings)} warning(s)" if warnings else ""))
        return 0
    from subnets.evaluate import evaluate, format_table, print_adversaries

    if args.adversaries:
        return print_adversaries(spec, args.steps, args.batch_size)
    print(format_table(evaluate(spec, list(range(args.seeds)), args.batch_size)))
    return 0
