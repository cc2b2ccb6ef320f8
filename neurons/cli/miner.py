"""`neuron miner`: serve a subnet's reference (or plugged-in) model behind an axon."""
from __future__ import annotations

HELP = "serve a subnet model to validators over gRPC (registers the axon on chain)"
SECTIONS = ["wallet", "chain", "axon", "miner", "subnet", "metrics", "logging"]


def add_arguments(parser) -> None:
    from neurons.config import add_config_flags
    add_config_flags(parser, SECTIONS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference model")


def run(args) -> int:
    import asyncio
    import logging

    import torch

    from neurons.cli.common import open_neuron
    from neurons.runtime import prepare_to_serve
    from neurons.miner import preflight, require_uid, serve

    torch.set_num_threads(1)  # several neurons share the machine's cores; one thread each is fastest

    def check(cfg) -> None:  # before the chain is dialled and the model loads: fail fast, say why
        ip, how = preflight(cfg)
        logging.getLogger("opensubnet.miner").info("will announce %s:%d (%s)", ip, cfg.axon.port, how)

    cfg, spec, hotkey, chain = open_neuron(args, check)
    with chain:
        factories = spec.miners()
        if cfg.miner.model not in factories:
            from neurons.cli.errors import CLIError
            raise CLIError(f"subnet {spec.name} has no model {cfg.miner.model!r}; "
                           f"choose one of: {', '.join(sorted(factories))}")
        require_uid(chain, cfg.chain.netuid, hotkey.ss58_address)
        model = factories[cfg.miner.model](args.seed)
        prepare_to_serve()
        asyncio.run(serve(cfg, spec=spec, model=model, hotkey=hotkey, chain=chain))
    return 0
