"""What the long-running commands share: config, subnet spec, hotkey and chain from the flags."""
from __future__ import annotations

import logging
import signal


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM leaves like Ctrl-C: `interrupted`, no traceback


def stop_on_sigterm() -> None:
    """From here on SIGTERM stops the command as SIGINT does (KeyboardInterrupt: clean-up runs, no traceback)."""
    signal.signal(signal.SIGTERM, _terminate)


def open_neuron(args, check=None):
    """(config, subnet spec, hotkey Keypair, chain) for `neuron miner` / `neuron validator`; `check(cfg)`
    runs before the chain is dialled. From here on SIGTERM stops the command as SIGINT does (the serving
    loops then take both over)."""
    import chain as chain_mod
    from neurons.cli.errors import CLIError
    from neurons.config import fill_from_subnet, load_config
    from neurons.plugins import load_subnet
    from neurons.wallet import wallet_from_config

    stop_on_sigterm()
    cfg = load_config(args)
    logging.getLogger().setLevel(cfg.logging.level)
    if cfg.chain.netuid is None:
        raise CLIError("no subnet given: pass --netuid N (or set [chain] netuid in the config file)")
    spec = load_subnet(cfg.subnet.name)
    fill_from_subnet(cfg, spec)
    hotkey = wallet_from_config(cfg.wallet).hotkey(cfg.wallet.hotkey)
    if check is not None:
        check(cfg)
    return cfg, spec, hotkey, chain_mod.connect(cfg.chain.url)
