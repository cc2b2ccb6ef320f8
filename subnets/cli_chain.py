"""`neuron subnet create|hyperparameters|set`: a subnet on a chain (the spec side is subnets/cli.py)."""
from __future__ import annotations

import argparse
import logging
from dataclasses import fields

log = logging.getLogger("subnets.cli")


def add_chain_actions(sub) -> None:
    from neurons.config import add_config_flags

    p = sub.add_parser("create", help="create a subnet on the chain (burns the lock cost from the coldkey); prints its netuid",
                       description="create a subnet owned by the wallet's coldkey; prints the new netuid")
    add_config_flags(p, ["wallet", "chain"])
    p = sub.add_parser("hyperparameters", help="a subnet's hyperparameters, one `name value` line each",
                       description="a subnet's hyperparameters as the chain stores them, one `name value` line each")
    add_config_flags(p, ["chain"])
    p = sub.add_parser("set", help="set hyperparameters (subnet owner or sudo, as the chain allows)",
                       description="set one or more hyperparameters of a subnet in one extrinsic, all or none, "
                                   "signed by the wallet's coldkey (the subnet owner, or the chain's sudo key "
                                   "for the rest)")
    add_config_flags(p, ["wallet", "chain"])
    p.add_argument("pairs", nargs="+", metavar="NAME VALUE",
                   help="hyperparameter name (see `neuron subnet hyperparameters`) and its new value: an "
                        "integer, or true/false; several pairs are set together")


def hyperparameter_names() -> list[str]:
    from chain.types import Hyperparameters
    return [f.name for f in fields(Hyperparameters)]


def parse_value(name: str, text: str) -> int | bool:
    """VALUE for hyperparameter `name` (its type from chain.types.Hyperparameters); CLIError when bad."""
    from chain.types import Hyperparameters
    from neurons.cli.errors import CLIError

    names = hyperparameter_names()
    if name not in names:
        raise CLIError(f"unknown hyperparameter {name!r}", hint=f"one of: {', '.join(names)}")
    if isinstance(getattr(Hyperparameters(), name), bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise CLIError(f"{name} takes true or false, got {text!r}")
    try:
        value = int(text)
    except ValueError:
        raise CLIError(f"{name} takes a whole number, got {text!r}") from None
    try:
        Hyperparameters.check(name, value)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return value


def parse_pairs(words: list[str]) -> dict[str, int | bool]:
    """NAME VALUE [NAME VALUE ...] -> {name: value}; CLIError when odd, repeated or bad."""
    from neurons.cli.errors import CLIError

    if len(words) % 2:
        raise CLIError(f"{words[-1]!r} has no value", hint="give NAME VALUE pairs, e.g. `tempo 100 kappa 32767`")
    names = words[::2]
    if len(set(names)) != len(names):
        raise CLIError("a hyperparameter is named twice", hint="give each NAME once")
    return {name: parse_value(name, text) for name, text in zip(names, words[1::2])}


def run_chain_action(args: argparse.Namespace) -> int:
    import chain as chain_mod
    from chain.errors import ChainError
    from neurons.cli.register import require_netuid
    from neurons.config import load_config

    cfg = load_config(args)
    if args.action == "set":
        values = parse_pairs(args.pairs)  # before the password prompt and the connection
    with chain_mod.connect(cfg.chain.url) as chain:
        if args.action == "create":
            return _create(chain, cfg)
        netuid = require_netuid(cfg)
        if args.action == "hyperparameters":
            for name, v in chain.hyperparameters(netuid).as_dict().items():
                print(f"{name} {str(v).lower() if isinstance(v, bool) else v}")
            return 0
        from neurons.cli.keys import coldkey
        _, signer = coldkey(cfg)
        try:
            chain.set_hyperparameters(netuid, values, signer)
        except ChainError as exc:
            if len(values) > 1:   # one extrinsic: say that the others were not set either
                exc.hint = "; ".join(filter(None, [exc.hint, f"none of the {len(values)} values was set (all or "
                                                   "none): set the refused one apart, with the key it needs"]))
            raise
        now = chain.hyperparameters(netuid)
    for name in values:
        value = getattr(now, name)
        print(f"subnet {netuid}: {name} {str(value).lower() if isinstance(value, bool) else value}")
    return 0


def _create(chain, cfg) -> int:
    from neurons.cli.keys import coldkey, hotkey_address

    wallet, cold = coldkey(cfg)
    hotkeys = wallet.hotkeys()
    owner_hotkey = hotkey_address(wallet, cfg.wallet.hotkey) if cfg.wallet.hotkey in hotkeys else None
    netuid = chain.create_subnet(cold, owner_hotkey)
    log.info("created subnet %d on %s, owned by coldkey %s", netuid, cfg.chain.url, cold.ss58_address)
    print(netuid)
    return 0
