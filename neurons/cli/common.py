"""What the long-running commands share: config, subnet spec, hotkey and chain from the flags."""
from __future__ import annotations

import logging


def open_neuron(args):
    """(config, subnet spec, hotkey Keypair, chain) for `neuron miner` / `neuron validator`."""
    import chain as chain_mod
    from neurons.cli.errors import CLIError
    from neurons.config import load_config
    from neurons.plugins import load_subnet
    from neurons.wallet import wallet_from_config

    cfg = load_config(args)
    logging.getLogger().setLevel(cfg.logging.level)
    if cfg.chain.netuid is None:
        raise CLIError("no subnet given: pass --netuid N (or set [chain] netuid in the config file)")
    spec = load_subnet(cfg.subnet.name)
    hotkey = wallet_from_config(cfg.wallet).hotkey(cfg.wallet.hotkey)
    return cfg, spec, hotkey, chain_mod.connect(cfg.chain.url)
