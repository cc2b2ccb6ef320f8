"""`neuron stake add|remove|list`: stake TAO from the wallet's coldkey onto a hotkey, take it back, list it."""
from __future__ import annotations

import argparse
import logging

from neurons.config import add_config_flags, load_config

HELP = "stake TAO from the wallet's coldkey on a hotkey (add), unstake it (remove), or list the stakes"
log = logging.getLogger("neurons.stake")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="stake_action", metavar="ACTION", required=True)
    for name, text in (("add", "move TAO from the coldkey's balance onto a hotkey's stake"),
                       ("remove", "move stake from a hotkey back to the coldkey's balance")):
        p = sub.add_parser(name, help=text, description=text + ". --hotkey is a hotkey name of the wallet "
                           "or any hotkey's ss58 address. --netuid N stakes on subnet N: dTAO runtimes need it; "
                           "on the dev ledger stake without it is root stake, which counts on every subnet.")
        add_config_flags(p, ["wallet", "chain"])
        p.add_argument("--amount", required=True, metavar="TAO", help="TAO to move, e.g. 10")
    p = sub.add_parser("list", help="the coldkey's balance and its stake on each of the wallet's hotkeys",
                       description="the coldkey's balance and its stake on each of the wallet's hotkeys")
    add_config_flags(p, ["wallet", "chain"])


def run(args: argparse.Namespace) -> int:
    import chain as chain_mod

    cfg = load_config(args)
    with chain_mod.connect(cfg.chain.url) as chain:
        if args.stake_action == "list":
            return _list(chain, cfg)
        return _move(chain, cfg, args)


def _move(chain, cfg, args) -> int:
    from neurons.cli.keys import coldkey, hotkey_address, tao, tao_to_rao

    amount = tao_to_rao(args.amount)
    wallet, cold = coldkey(cfg)
    hotkey = hotkey_address(wallet, cfg.wallet.hotkey)
    netuid = cfg.chain.netuid
    if args.stake_action == "add":
        log.info("staking %s from %s on %s", tao(amount), cold.ss58_address, hotkey)
        chain.add_stake(cold, hotkey, amount, netuid=netuid)
    else:
        log.info("unstaking %s from %s back to %s", tao(amount), hotkey, cold.ss58_address)
        chain.remove_stake(cold, hotkey, amount, netuid=netuid)
    mine = chain.stake(hotkey, cold.ss58_address, netuid=netuid)
    verb = "staked" if args.stake_action == "add" else "unstaked"
    print(f"{verb} {tao(amount)} {'on' if verb == 'staked' else 'from'} hotkey {hotkey}; "
          f"your stake there {tao(mine)}, balance {tao(chain.balance(cold.ss58_address))}")
    return 0


def _list(chain, cfg) -> int:
    from neurons.cli.keys import open_wallet, tao

    wallet = open_wallet(cfg)
    cold = wallet.coldkeypub
    netuid = cfg.chain.netuid
    print(f"wallet {wallet.name!r} coldkey {cold}: balance {tao(chain.balance(cold))}")
    total = 0
    for name in wallet.hotkeys():
        hotkey = wallet.hotkey_ss58(name)
        amount = chain.stake(hotkey, cold, netuid=netuid)
        total += amount
        print(f"  hotkey {name:<12} {hotkey}  {tao(amount)}")
    print(f"total staked {tao(total)}" + (f" on subnet {netuid}" if netuid is not None else
                                          " not tied to a subnet (--netuid N lists a subnet's)"))
    return 0
