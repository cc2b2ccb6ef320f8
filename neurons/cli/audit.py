"""`neuron audit --chain URL --netuid N`: recompute the subnet's last epoch and compare with the chain."""
from __future__ import annotations

import argparse

HELP = "recompute a subnet's last Yuma epoch with our consensus and compare it with the chain's stored results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chain", required=True, help="ws://HOST:PORT, wss://…, or `local` (the local chain)")
    parser.add_argument("--netuid", type=int, required=True, help="subnet to audit")
    parser.add_argument("--block", type=int, help="audit the epoch that ran in this block (default: the latest)")
    parser.add_argument("--float", dest="fixed_point", action="store_false",
                        help="recompute in float64 instead of the runtime's I32F32 fixed point")


def run(args: argparse.Namespace) -> int:
    import chain
    from chain.audit import audit_epoch

    with chain.connect(args.chain) as c:
        report = audit_epoch(c, args.netuid, args.block, fixed_point=args.fixed_point)
    print(report.table())
    return 0 if report.max_diff == 0 else 3
