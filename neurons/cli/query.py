"""`neuron query`: ask a validator's API for the subnet's mixture answer to some texts."""
from __future__ import annotations

HELP = "send texts to a validator's API and print the mixture's answer and the miners behind it"
SECTIONS = ["wallet", "chain", "dendrite", "subnet", "logging"]


def add_arguments(parser) -> None:
    import argparse

    from neurons.config import add_config_flags
    from neurons.config.loader import FLAG_DEST
    add_config_flags(parser, SECTIONS)
    parser.add_argument("--subnet", dest=FLAG_DEST + "subnet.name", default=argparse.SUPPRESS, metavar="NAME",
                        help="subnet spec (same as --subnet.name), e.g. text-embedding")
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
    from neurons.config import load_config
    from neurons.plugins import load_subnet
    from neurons.wallet import wallet_from_config

    torch.set_num_threads(1)
    cfg = load_config(args)
    logging.getLogger().setLevel(cfg.logging.level)
    spec = load_subnet(cfg.subnet.name)
    try:
        request = spec.request_from_text(list(args.texts))
        spec.validate_request(request)
    except (NotImplementedError, ValueError) as e:
        raise CLIError(f"cannot build a {spec.name} request from these texts: {e}") from None
    endpoints = _endpoints(args, cfg)
    hotkey = wallet_from_config(cfg.wallet).hotkey(cfg.wallet.hotkey)
    ep, answer, elapsed = asyncio.run(_ask(spec, hotkey, endpoints, request, cfg.dendrite.timeout_s))
    print(f"validator {_who(ep)} at {ep.address} answered in {elapsed * 1e3:.0f} ms "
          f"(subnet {_safe(answer.fields.get('subnet', '?'))}, block {_safe(answer.fields.get('block', '?'))})")
    mean = answer.weights.mean(0)  # [m] the gate weight of each contributing miner, averaged over rows
    print("mixture of miners: " + ", ".join(f"uid {u} (weight {float(w):.3f})" for u, w in zip(answer.uids, mean)))
    for i, (text, line) in enumerate(zip(args.texts, spec.render(answer.mixture, request))):
        print(f"[{i}] {_short(text)}: {line}")
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
    from neurons.validator.api import api_endpoints

    with chain_mod.connect(cfg.chain.url) as chain:
        found = api_endpoints(chain.metagraph(cfg.chain.netuid))
    if not found:
        raise CLIError(f"no validator on subnet {cfg.chain.netuid} announces an API on {cfg.chain.url}",
                       hint="start one with `neuron validator --validator.api_port PORT`, or pass --validator")
    return found


async def _ask(spec, hotkey, endpoints, request, timeout: float):
    """Try the validators in order (largest stake first) until one answers; (endpoint, answer, seconds)."""
    from neurons.cli.errors import CLIError
    from neurons.dendrite import Dendrite
    from neurons.validator.api import mixture_synapse, read_answer
    from protocol.codes import describe

    failures = []
    async with Dendrite(hotkey) as dendrite:
        for ep in endpoints[:3]:
            (result,) = await dendrite.query([ep], mixture_synapse(spec), request, timeout=timeout)
            if not result.ok:
                failures.append(f"{_who(ep)}: {describe(result.code)} — {_safe(result.message, 300)}")
                continue
            try:
                return ep, read_answer(spec, result, request), result.latency_s
            except ValueError as e:
                failures.append(f"{_who(ep)}: malformed answer: {e}")
    raise CLIError("no validator answered:\n  " + "\n  ".join(failures),
                   hint="BLACKLISTED: your hotkey needs stake (see the validator's api_min_stake); "
                        "RATE_LIMITED: wait a moment")


def _who(ep) -> str:
    return (f"uid {ep.uid} " if ep.uid is not None else "") + ep.hotkey[:10] + "…"


def _safe(text: str, n: int = 40) -> str:
    """Text from the network, printable only (no terminal control sequences), at most n characters."""
    return "".join(c for c in str(text) if c.isprintable())[:n]


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 1] + "…")
