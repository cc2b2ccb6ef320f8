"""`neuron validator`: route challenges through the MoE gate, score miners, set weights."""
from __future__ import annotations

HELP = "query miners through the mixture-of-experts gate, score them and set weights on chain"
SECTIONS = ["wallet", "chain", "dendrite", "validator", "gate", "scoring", "subnet", "metrics", "logging"]


def add_arguments(parser) -> None:
    from neurons.config import add_config_flags
    add_config_flags(parser, SECTIONS)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: run until stopped)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between steps")


def run(args) -> int:
    import asyncio

    import torch

    from neurons.cli.common import open_neuron
    from neurons.runtime import prepare_to_serve
    from neurons.validator.loop import Validator

    torch.set_num_threads(1)  # the gate is small; more threads only contend with the miners
    cfg, spec, hotkey, chain = open_neuron(args)
    with chain:
        validator = Validator(cfg, spec=spec, hotkey=hotkey, chain=chain)
        prepare_to_serve()
        asyncio.run(validator.run(max_steps=args.steps, pause_s=args.pause))
    return 0
