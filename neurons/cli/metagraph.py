"""`neuron metagraph --chain URL --netuid N`: one subnet's metagraph as a table (or JSON)."""
from __future__ import annotations

import argparse
import json

from neurons.cli.errors import CLIError
from neurons.config import add_config_flags, load_config

HELP = "print a subnet's metagraph: stake, consensus, incentive, dividends, permits, axons per uid"

COLUMNS = ("uid", "stake", "consensus", "incentive", "dividends", "vtrust", "permit", "emission", "updated",
           "axon", "hotkey")
SORTABLE = ("uid", "stake", "consensus", "incentive", "dividends", "vtrust", "emission", "updated")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_flags(parser, ["chain"])
    parser.add_argument("--sort", choices=SORTABLE, default="uid", help="order rows by this column (descending except uid)")
    parser.add_argument("--top", type=int, default=None, metavar="K", help="show only the first K rows")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--mechid", type=int, default=0, metavar="M",
                        help="the subnet mechanism whose incentive, weights and bonds to show (default 0)")


def rows(mg) -> list[dict]:
    """One dict per uid with the table's columns (floats in the metagraph's units: TAO and [0, 1])."""
    out = []
    for i in range(mg.n):
        axon = mg.axons[i]
        out.append({
            "uid": int(mg.uids[i]), "stake": float(mg.stake[i]), "consensus": float(mg.consensus[i]),
            "incentive": float(mg.incentive[i]), "dividends": float(mg.dividends[i]),
            "vtrust": float(mg.validator_trust[i]), "permit": bool(mg.validator_permit[i]),
            "emission": float(mg.emission[i]), "updated": int(mg.block - mg.last_update[i]),
            "axon": f"{axon.ip}:{axon.port}" if axon is not None and axon.serving else "-",
            "hotkey": mg.hotkeys[i], "coldkey": mg.coldkeys[i],
        })
    return out


def format_table(mg, table: list[dict], url: str) -> str:
    head = (f"subnet {mg.netuid} on {url} at block {mg.block}: {mg.n} uids, "
            f"{int(mg.validator_permit.sum())} validator permits, total stake {float(mg.stake.sum()):,.2f} TAO")
    if not table:
        return head + "\n(no uids registered: `neuron register --netuid " + str(mg.netuid) + "`)"
    cells = [[
        str(r["uid"]), f"{r['stake']:,.2f}", f"{r['consensus']:.4f}", f"{r['incentive']:.4f}", f"{r['dividends']:.4f}",
        f"{r['vtrust']:.4f}", "*" if r["permit"] else "", f"{r['emission']:.6f}", str(r["updated"]), r["axon"],
        r["hotkey"][:10] + "…",
    ] for r in table]
    header = [c.upper() for c in COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(header, *cells)]
    left = {"axon", "hotkey"}
    lines = ["  ".join(v.ljust(w) if c in left else v.rjust(w) for v, w, c in zip(line, widths, COLUMNS))
             for line in [header, *cells]]
    return "\n".join([head, *lines, "stake and emission in TAO (emission per epoch); UPDATED = blocks since weights"])


def run(args: argparse.Namespace) -> int:
    import chain as chain_mod

    cfg = load_config(args)
    if cfg.chain.netuid is None:
        raise CLIError("no subnet given", hint="pass --netuid N (or set [chain] netuid in opensubnet.toml)")
    with chain_mod.connect(cfg.chain.url) as ch:
        if cfg.chain.netuid not in ch.subnets():
            raise CLIError(f"subnet {cfg.chain.netuid} does not exist on {cfg.chain.url}",
                           hint=f"subnets there: {', '.join(map(str, ch.subnets())) or 'none'}")
        mg = ch.metagraph(cfg.chain.netuid, mechid=args.mechid)
    table = rows(mg)
    if args.sort != "uid":
        table.sort(key=lambda r: r[args.sort], reverse=args.sort != "updated")
    if args.top is not None:
        table = table[: max(args.top, 0)]
    if args.json:
        print(json.dumps({"netuid": mg.netuid, "block": mg.block, "n": mg.n, "neurons": table}, indent=2))
    else:
        print(format_table(mg, table, cfg.chain.url))
    return 0
