"""`neuron register`: burned registration of the wallet's hotkey on a subnet; prints the uid.

`require_uid` is the one place that turns "not registered" into the sentence telling the user what to run.
"""
from __future__ import annotations

import argparse
import logging

from neurons.cli.errors import CLIError
from neurons.config import add_config_flags, load_config

HELP = "register the wallet's hotkey on a subnet (burns TAO from the coldkey) and print its uid"
log = logging.getLogger("neurons.register")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_flags(parser, ["wallet", "chain"])


def register_command(cfg) -> str:
    """The command line that registers the hotkey this config names."""
    parts = ["neuron register", f"--netuid {cfg.chain.netuid}"]
    if cfg.wallet.name != "default":
        parts.append(f"--wallet {cfg.wallet.name}")
    if cfg.wallet.hotkey != "default":
        parts.append(f"--hotkey {cfg.wallet.hotkey}")
    if cfg.origin("chain.url") != "default":
        parts.append(f"--chain {cfg.chain.url}")
    return " ".join(parts)


def require_netuid(cfg) -> int:
    if cfg.chain.netuid is None:
        raise CLIError("no subnet given", hint="pass --netuid N (or set [chain] netuid in opensubnet.toml)")
    return cfg.chain.netuid


def require_uid(chain, cfg, hotkey_ss58: str) -> int:
    """The hotkey's uid on the config's subnet, or a CLIError saying how to register it."""
    netuid = require_netuid(cfg)
    uid = chain.uid(netuid, hotkey_ss58)
    if uid is None:
        raise CLIError(f"hotkey {cfg.wallet.hotkey} ({hotkey_ss58}) is not registered on subnet {netuid}",
                       hint=f"run `{register_command(cfg)}`")
    return uid


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    netuid = require_netuid(cfg)
    from chain import RAO_PER_TAO, connect
    from neurons.wallet import password_or_prompt, wallet_from_config
    wallet = wallet_from_config(cfg.wallet)
    hotkey = wallet.hotkey_ss58(cfg.wallet.hotkey)
    with connect(cfg.chain.url) as chain:
        if netuid not in chain.subnets():
            raise CLIError(f"subnet {netuid} does not exist on {cfg.chain.url}",
                           hint=f"subnets there: {', '.join(map(str, chain.subnets())) or 'none'}; create one with "
                                f"`neuron subnet create --chain {cfg.chain.url} --wallet {cfg.wallet.name}`")
        uid = chain.uid(netuid, hotkey)
        if uid is not None:
            print(f"hotkey {cfg.wallet.hotkey} ({hotkey}) is already registered on subnet {netuid}: uid {uid}")
            return 0
        burn = chain.hyperparameters(netuid).burn
        password = None if wallet.name.startswith("//") else password_or_prompt(
            password_file=cfg.wallet.password_file, password_env=cfg.wallet.password_env,
            what=f"coldkey of wallet {wallet.name!r}")
        coldkey = wallet.coldkey(password)
        if chain.balance(coldkey.ss58_address) < burn:
            raise CLIError(f"coldkey {coldkey.ss58_address} holds {chain.balance(coldkey.ss58_address) / RAO_PER_TAO:.9f} "
                           f"TAO; registering burns {burn / RAO_PER_TAO:.9f} TAO",
                           hint=f"fund it: `neuron wallet fund --chain {cfg.chain.url} --wallet {cfg.wallet.name} "
                                f"--amount {max(1, -(-burn // RAO_PER_TAO))}` on a dev chain, else have TAO sent to it "
                                f"with `neuron transfer --wallet FUNDED --dest {coldkey.ss58_address} --amount TAO`")
        log.info("registering hotkey %s on subnet %d of %s (burns %.9f TAO from coldkey %s)",
                 hotkey, netuid, cfg.chain.url, burn / RAO_PER_TAO, coldkey.ss58_address)
        uid = chain.register(netuid, hotkey, coldkey)
    print(f"registered hotkey {cfg.wallet.hotkey} ({hotkey}) on subnet {netuid}: uid {uid}")
    return 0
