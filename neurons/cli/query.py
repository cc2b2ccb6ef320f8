"""`neuron query`: ask a validator's API for the subnet's mixture answer to some texts."""
from __future__ import annotations

HELP = "send texts to a validator's API and print the mixture's answer and the miners behind it"
SECTIONS = ["wallet", "chain", "dendrite", "subnet", "logging"]


def add_arguments(parser) -> None:
    from neurons.config import add_config_flags
    add_config_flags(parser, SECTIONS)
    parser.add_argument("--validator", metavar="HOST:PORT", default=None,
                        help="ask this validator directly instead of looking it up on chain (needs --validator-hotkey)")
    parser.add_argument("--validator-hotkey", metavar="SS58", default=None,
                        help="the hotkey that must sign the validator's answer")
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="the texts to send (one batch row each)")


def run(args) -> int:
    import asyncio
    import logging

    import torch

    from neurons.cli.errors import CLIError
    from neurons.config import fill_from_subnet, load_config
    from neurons.plugins import load_subnet
    from neurons.validator.api_client import answer_lines
    from neurons.wallet import wallet_from_config

    torch.set_num_threads(1)
    cfg = load_config(args)
    logging.getLogger().setLevel(cfg.logging.level)
    spec = load_subnet(cfg.subnet.name)
    fill_from_subnet(cfg, spec)
    try:
        request = spec.request_from_text(list(args.texts))
        spec.validate_request(request)
    except (NotImplementedError, ValueError) as e:
        raise CLIError(f"cannot build a {spec.name} request from these texts: {e}") from None
    endpoints = _endpoints(args, cfg)
    hotkey = wallet_from_config(cfg.wallet).hotkey(cfg.wallet.hotkey)
    ep, answer, seconds = asyncio.run(_ask(spec, hotkey, endpoints, request, cfg.dendrite.timeout_s))
    print("\n".join(answer_lines(spec, ep, answer, seconds, request, list(args.texts))))
    return 0


def _endpoints(args, cfg):
    """The validator named by --validator, or the subnet's API validators from the metagraph."""
    from neurons.cli.errors import CLIError
    from neurons.dendrite import Endpoint

    if args.validator:
        host, sep, port = args.validator.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CLIError(f"--validator {args.validator!r} is not HOST:PORT")
        if not args.validator_hotkey:
            raise CLIError("--validator needs --validator-hotkey SS58 (the key that signs its answers)")
        return [Endpoint(args.validator_hotkey, host.strip("[]"), int(port))]
    if cfg.chain.netuid is None:
        raise CLIError("say which validator to ask: --chain URL --netuid N, or --validator HOST:PORT --validator-hotkey SS58")
    import chain as chain_mod
    from neurons.validator.api_client import api_endpoints

    with chain_mod.connect(cfg.chain.url) as chain:
        found = api_endpoints(chain.metagraph(cfg.chain.netuid))
    if not found:
        raise CLIError(f"no validator on subnet {cfg.chain.netuid} announces an API on {cfg.chain.url}",
                       hint="start one with `neuron validator --validator.api_port PORT`, or pass --validator")
    return found


async def _ask(spec, hotkey, endpoints, request, timeout: float):
    from neurons.cli.errors import CLIError
    from neurons.dendrite import Dendrite
    from neurons.validator.api_client import NoValidatorAnswered, ask_validators

    async with Dendrite(hotkey) as dendrite:
        try:
            return await ask_validators(spec, dendrite, endpoints, request, timeout=timeout)
        except NoValidatorAnswered as e:
            raise CLIError(str(e), hint="BLACKLISTED: your hotkey needs stake (see the validator's api_min_stake); "
                                        "RATE_LIMITED: wait a moment") from None
