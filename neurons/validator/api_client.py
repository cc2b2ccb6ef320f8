"""The application's side of a validator's API (see neurons/validator/api.py for the wire contract):
find the validators serving it, ask them, check their answer, print it."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import torch

from neurons.dendrite import Dendrite, Endpoint, Result
from neurons.validator.api import API_PROTOCOL, mixture_synapse
from protocol.codes import ReturnCode, describe

RETRY_S = 1.0


class NoValidatorAnswered(RuntimeError):
    """Every validator tried refused or failed; the message has one line per validator."""


@dataclass
class MixtureAnswer:
    mixture: Any              # what spec.render takes
    uids: list[int]           # [m] the miners that contributed
    weights: torch.Tensor     # [batch, m] their gate weights
    fields: dict[str, str]


def api_endpoints(mg) -> list[Endpoint]:
    """Validators announcing the API on this subnet, largest stake first."""
    found = [u for u, a in enumerate(mg.axons) if a is not None and a.serving and a.protocol == API_PROTOCOL]
    found.sort(key=lambda u: -float(mg.stake[u]))
    return [Endpoint(mg.hotkeys[u], mg.axons[u].ip, mg.axons[u].port, u) for u in found]


def read_answer(spec, result: Result, request) -> MixtureAnswer:
    """A validator's SUCCESS result checked against the request; ValueError names what is wrong."""
    tensors = dict(result.tensors)
    uids, weights = tensors.pop("uids", None), tensors.pop("weights", None)
    if not (isinstance(uids, torch.Tensor) and uids.dtype == torch.int64 and uids.dim() == 1 and uids.numel() >= 1):
        raise ValueError("answer tensor 'uids' must be a non-empty int64 vector")
    batch = next(iter(request.values())).shape[0]
    if not (isinstance(weights, torch.Tensor) and weights.dtype == torch.float32
            and tuple(weights.shape) == (batch, uids.numel()) and bool(torch.isfinite(weights).all())):
        raise ValueError(f"answer tensor 'weights' must be finite float32 [{batch}, {uids.numel()}]")
    return MixtureAnswer(spec.from_answer(tensors, request), uids.tolist(), weights, dict(result.fields))


async def ask_validators(spec, dendrite: Dendrite, endpoints: list[Endpoint], request, *, timeout: float,
                         tries: int = 3) -> tuple[Endpoint, MixtureAnswer, float]:
    """Ask the validators in order until one answers well: (endpoint, answer, seconds). A validator
    that rate-limits the first ask (e.g. while it looks the caller's stake up on chain) is asked once
    more after RETRY_S."""
    failures = []
    for ep in endpoints[:tries]:
        (result,) = await dendrite.query([ep], mixture_synapse(spec), request, timeout=timeout)
        if result.code == ReturnCode.RATE_LIMITED:
            await asyncio.sleep(RETRY_S)
            (result,) = await dendrite.query([ep], mixture_synapse(spec), request, timeout=timeout)
        if not result.ok:
            failures.append(f"{who(ep)}: {describe(result.code)} — {printable(result.message, 300)}")
            continue
        try:
            return ep, read_answer(spec, result, request), result.latency_s
        except ValueError as e:
            failures.append(f"{who(ep)}: malformed answer: {e}")
    raise NoValidatorAnswered("no validator answered:\n  " + "\n  ".join(failures or ["(none to ask)"]))


def answer_lines(spec, ep: Endpoint, answer: MixtureAnswer, seconds: float, request, texts: list[str]) -> list[str]:
    """What `neuron query` (and the demo) print: who answered, which miners, one line per text."""
    mean = answer.weights.mean(0)  # [m] each contributing miner's gate weight, averaged over rows
    lines = [f"validator {who(ep)} at {ep.address} answered in {seconds * 1e3:.0f} ms "
             f"(subnet {printable(answer.fields.get('subnet', '?'))}, block {printable(answer.fields.get('block', '?'))})",
             "mixture of miners: " + ", ".join(f"uid {u} (weight {float(w):.3f})" for u, w in zip(answer.uids, mean))]
    return lines + [f"[{i}] {short(text)}: {line}"
                    for i, (text, line) in enumerate(zip(texts, spec.render(answer.mixture, request)))]


def who(ep: Endpoint) -> str:
    return (f"uid {ep.uid} " if ep.uid is not None else "") + ep.hotkey[:10] + "…"


def printable(text: str, n: int = 40) -> str:
    """Text from the network, printable characters only (no terminal control sequences), at most n."""
    return "".join(c for c in str(text) if c.isprintable())[:n]


def short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 1] + "…")
