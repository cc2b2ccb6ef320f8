"""`neuron transfer --wallet W --dest SS58 --amount TAO`: send TAO from the wallet's coldkey."""
from __future__ import annotations

import argparse
import logging

from neurons.config import add_config_flags, load_config

HELP = "send TAO from the wallet's coldkey to an address"
log = logging.getLogger("neurons.transfer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_flags(parser, ["wallet", "chain"])
    parser.add_argument("--dest", required=True, metavar="SS58", help="the receiving address")
    parser.add_argument("--amount", required=True, metavar="TAO", help="TAO to send, e.g. 1.5")


def run(args: argparse.Namespace) -> int:
    import chain as chain_mod
    from neurons.cli.errors import CLIError
    from neurons.cli.keys import coldkey, is_ss58, tao, tao_to_rao

    cfg = load_config(args)
    amount = tao_to_rao(args.amount)
    if not is_ss58(args.dest):
        raise CLIError(f"--dest {args.dest!r} is not an ss58 address", hint="pass the receiver's address, e.g. 5F…")
    wallet, cold = coldkey(cfg)
    with chain_mod.connect(cfg.chain.url) as chain:
        log.info("sending %s from %s to %s on %s", tao(amount), cold.ss58_address, args.dest, cfg.chain.url)
        chain.transfer(cold, args.dest, amount)
        left = chain.balance(cold.ss58_address)
    print(f"sent {tao(amount)} from wallet {wallet.name!r} ({cold.ss58_address}) to {args.dest}; balance now {tao(left)}")
    return 0
