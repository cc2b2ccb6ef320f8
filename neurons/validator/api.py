"""The validator as an API: applications send the subnet's request and get the network's mixture back.

Wire contract (the same signed gRPC protocol miners speak):
  - synapse ``f"{spec.synapse}.mixture"`` (e.g. "TextEmbedding.mixture") on the validator's own axon,
    signed by its hotkey, announced on chain as that hotkey's axon with ``protocol=API_PROTOCOL``,
    so applications find it in the metagraph and validators never route challenges to it;
  - request: the subnet's request tensors (``spec.request``; ``spec.request_from_text`` builds them);
  - answer: ``spec.answer(mixture)`` tensors, plus ``uids`` int64 [m] (the miners that contributed)
    and ``weights`` float32 [batch, m] (their gate weights); fields ``subnet``, ``netuid``, ``block``.

Serving one request: validate → features → each row's plain top-k (no exploration) → query each of
those miners with its own rows under the caller's deadline → mix the valid answers → answer. All of it runs on the
validator's event loop between the scoring loop's awaits; the gate is shared but only read here
(the scoring loop alone trains it). Who may call, and how often, is `api_auth.ApiAuth`; the
application's side (find, ask, check, print) is `api_client`.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Callable

import torch

from chain.errors import ChainError
from neurons.axon import Axon
from neurons.axon.routes import Call, Reject, Reply
from neurons.config.schema import AxonSection
from neurons.dendrite import Dendrite, Endpoint, Result
from neurons.validator.api_auth import OFF_SUBNET, ApiAuth, StakeBook, StakeRateLimiter
from neurons.validator.fanout import ask
from neurons.validator.moe import MoE, NoAnswersError
from neurons.validator.routing import Route
from protocol.codes import ReturnCode

log = logging.getLogger("opensubnet.validator.api")

API_PROTOCOL = 7            # AxonInfo.protocol of a validator's API (miners announce the default, 4)
RESERVED = ("uids", "weights")  # answer tensors the API adds to the subnet's own
MIX_SHARE = 0.8             # share of the caller's remaining time given to the miners; the rest mixes and answers


def mixture_synapse(spec) -> str:
    return f"{spec.synapse}.mixture"


@dataclass
class AppQuery:
    """An application's request in the shape spec.features reads (a challenge without a target)."""
    request: dict[str, torch.Tensor]
    seed: int = 0
    target: None = None
    info: dict = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return next(iter(self.request.values())).shape[0]


def checked_output(spec, result: Result, request) -> dict | None:
    """A miner's answer if it succeeded and matches the synapse's response spec, else None.

    An answer that arrived but breaks the spec (shape, dtype, NaN, bounds) turns `result` into
    INVALID_RESPONSE, so logs and callers see why the miner scored 0, not a SUCCESS."""
    if not result.ok:
        return None
    try:
        spec.validate_response(result.tensors, request)
    except ValueError as e:
        log.debug("uid %s invalid response: %s", result.uid, e)
        result.code, result.message, result.tensors = ReturnCode.INVALID_RESPONSE, f"answer breaks the synapse spec: {e}", {}
        return None
    return result.tensors


class MixtureAPI:
    """The synapse handler: routes an application's request through the shared gate."""

    def __init__(self, spec, moe: MoE, sync, serving: Callable, dendrite: Dendrite, *, netuid: int, timeout_s: float):
        self.spec, self.moe, self.sync, self.serving, self.dendrite = spec, moe, sync, serving, dendrite
        self.netuid, self.timeout_s = netuid, timeout_s
        self.handled = 0  # requests that reached the handler (past auth and rate limits)

    async def forward(self, call: Call) -> Reply:
        self.handled += 1
        spec, request = self.spec, call.tensors
        try:
            spec.validate_request(request)
        except ValueError as e:
            raise Reject(ReturnCode.INVALID_REQUEST, str(e)) from None
        feats = spec.features(AppQuery(request))   # [batch, d_feat]
        mg = self.sync.metagraph
        serving = self.serving(mg)                  # [n_uids] bool
        if serving.numel() != self.moe.n_uids:
            raise Reject(ReturnCode.UNAVAILABLE, "the validator is following a new metagraph; retry")
        route = self.moe.select(feats, serving, explore=False)
        if len(route) == 0:
            raise Reject(ReturnCode.UNAVAILABLE, f"no miner is serving on subnet {self.netuid}")
        endpoints = [Endpoint(mg.hotkeys[u], mg.axons[u].ip, mg.axons[u].port, u) for u in route.uids.tolist()]
        timeout = min(self.timeout_s, MIX_SHARE * (call.deadline - asyncio.get_running_loop().time()))
        if timeout <= 0.01:
            raise Reject(ReturnCode.TIMEOUT, "the deadline leaves no time to query miners")
        results, outputs = await ask(self.dendrite, spec, endpoints, request, route,  # each miner: its own rows
                                     lambda r, q: checked_output(spec, r, q), timeout=timeout)
        route, results, outputs = self._still_current(route, endpoints, results, outputs)
        try:
            mixture, weights = self.moe.mix(spec, feats, route, outputs)  # weights: [batch, k]
        except NoAnswersError as e:
            codes = " ".join(f"{r.uid}:{r.code.name}" for r in results)
            raise Reject(ReturnCode.UNAVAILABLE, f"{e} ({codes})") from None
        ok = [i for i, o in enumerate(outputs) if o is not None]
        answer = spec.answer(mixture)
        if clash := set(answer) & set(RESERVED):
            raise TypeError(f"subnet {spec.name}: answer() must not use the reserved names {sorted(clash)}")
        tensors = {**answer, "uids": route.uids[ok].to(torch.int64),
                   "weights": weights[:, ok].to(torch.float32).contiguous()}
        log.debug("API %s: %d rows from uids %s", call.caller.hotkey, feats.shape[0], route.uids[ok].tolist())
        return Reply(tensors, {"subnet": spec.name, "netuid": str(self.netuid), "block": str(mg.block)})

    def _still_current(self, route: Route, endpoints: list[Endpoint], results: list[Result], outputs: list):
        """Drop answers whose uid changed hands (or vanished) while the miners were queried."""
        keep = [i for i, (u, ep) in enumerate(zip(route.uids.tolist(), endpoints))
                if u < self.moe.n_uids and self.moe.hotkeys[u] == ep.hotkey]
        if len(keep) == len(endpoints):
            return route, results, outputs
        return route.subset(keep), [results[i] for i in keep], [outputs[i] for i in keep]


def api_auth(v, chain) -> ApiAuth:
    """The admission policy from a validator config section `v`."""
    limiter = StakeRateLimiter(v.api_rate_per_s, v.api_rate_per_tao, v.api_rate_max, v.api_burst_s)
    return ApiAuth(StakeBook(chain.stake), limiter, v.api_min_stake)


async def serve_api(validator, dendrite: Dendrite) -> tuple[Axon, MixtureAPI]:
    """Start the API axon of a running `Validator` and announce it on chain; returns (axon, api)."""
    cfg, spec, v = validator.cfg, validator.spec, validator.cfg.validator
    api = MixtureAPI(spec, validator.moe, validator.sync, validator.serving_mask, dendrite,
                     netuid=validator.netuid, timeout_s=cfg.dendrite.timeout_s)
    auth = api_auth(v, validator.chain)
    axon = Axon(validator.hotkey, caller_info=lambda hk: validator.sync.caller_info(hk) or OFF_SUBNET,
                host=v.api_host, port=v.api_port,
                config=AxonSection(rate_per_s=v.api_rate_max, burst=max(1.0, v.api_rate_max * v.api_burst_s),
                                   timeout_s=cfg.dendrite.timeout_s / MIX_SHARE + 1.0,
                                   require_validator_permit=False))  # applications hold stake, not permits
    axon.attach(mixture_synapse(spec), api.forward, blacklist=auth.blacklist, priority=auth.priority,
                verify=auth.verify)
    port = await axon.start()
    ip = v.api_external_ip or "127.0.0.2"
    try:  # off the API's loop: it is serving already
        announced = await validator.chainio.run(announce, validator.chain, validator.sync.metagraph, validator.netuid,
                                                validator.uid, validator.hotkey, ip, port)
    except ChainError as e:  # e.g. ChainTimeout
        log.warning("API not announced on chain (%s); it serves anyway", e)
        announced = False
    log.info("API: %s on %s:%d (%s), min stake %g TAO, %g req/s + %g per TAO (max %g)",
             mixture_synapse(spec), v.api_host, port, f"announced on chain as {ip}:{port}" if announced
             else "not announced", v.api_min_stake, v.api_rate_per_s, v.api_rate_per_tao, v.api_rate_max)
    return axon, api


def announce(chain, mg, netuid: int, uid: int, hotkey, ip: str, port: int) -> bool:
    """serve_axon(protocol=API_PROTOCOL) unless the chain already says exactly that; False (logged) on failure."""
    current = mg.axons[uid] if uid < mg.n else None
    if current is not None and (current.ip, current.port, current.protocol) == (ip, port, API_PROTOCOL):
        return True
    try:
        chain.serve_axon(netuid, hotkey, ip, port, protocol=API_PROTOCOL)
    except ChainError as e:
        log.warning("API not announced on chain (%s); applications can still reach it with "
                    "`neuron query --validator %s:%d --validator-hotkey %s TEXT`", e, ip, port, hotkey.ss58_address)
        return False
    return True
