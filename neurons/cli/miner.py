"""`neuron miner`: serve a subnet's reference (or plugged-in) model behind an axon."""
from __future__ import annotations

HELP = "serve a subnet model to validators over gRPC (registers the axon on chain)"
SECTIONS = ["wallet", "chain", "axon", "miner", "subnet", "logging"]


def add_arguments(parser) -> None:
    from neurons.config import add_config_flags
    add_config_flags(parser, SECTIONS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference model")


def run(args) -> int:
    import asyncio

    import torch

    from neurons.cli.common import open_neuron
    from neurons.runtime import prepare_to_serve
    from neurons.miner import serve

    torch.set_num_threads(1)  # several neurons share the machine's cores; one thread each is fastest
    cfg, spec, hotkey, chain = open_neuron(args)
    factories = spec.miners()
    if cfg.miner.model not in factories:
        from neurons.cli.errors import CLIError
        raise CLIError(f"subnet {spec.name} has no model {cfg.miner.model!r}; choose one of: {', '.join(sorted(factories))}")
    model = factories[cfg.miner.model](args.seed)
    prepare_to_serve()
    with chain:
        asyncio.run(serve(cfg, spec=spec, model=model, hotkey=hotkey, chain=chain))
    return 0
