"""`neuron audit --chain URL --netuid N`: recompute the subnet's last epoch and compare every stored field."""
from __future__ import annotations

import argparse

from neurons.config import add_config_flags, load_config

HELP = "recompute a subnet's last Yuma epoch with our consensus and compare it with every field the chain stored"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_flags(parser, ["chain"])
    parser.add_argument("--block", type=int, help="audit the epoch that ran in this block (default: the latest)")
    parser.add_argument("--float", dest="fixed_point", action="store_false",
                        help="recompute in float64 instead of the runtime's I32F32 fixed point")


def run(args: argparse.Namespace) -> int:
    import chain
    from chain.audit import audit_epoch
    from neurons.cli.register import require_netuid

    cfg = load_config(args)
    netuid = require_netuid(cfg)
    with chain.connect(cfg.chain.url) as c:
        report = audit_epoch(c, netuid, args.block, fixed_point=args.fixed_point)
    print(report.table())
    return 0 if report.max_diff == 0 else 3
