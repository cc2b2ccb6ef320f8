"""The miner process: serve a subnet's model behind an axon and keep the chain's view fresh.

    register check → build the model → axon.attach(synapse) → start → serve_axon on chain →
    refresh the metagraph (callers' stake and permits) every `sync_s` until stopped.
"""
from __future__ import annotations

import asyncio
import logging
import signal

import torch

from chain import Chain
from chain.errors import NotRegisteredError
from neurons.axon import Axon
from neurons.axon.config import AxonConfig
from neurons.axon.routes import Call, Reject
from neurons.config.schema import NeuronConfig
from neurons.sync import MetagraphSync
from protocol.codes import ReturnCode

log = logging.getLogger("opensubnet.miner")


def axon_config(cfg: NeuronConfig) -> AxonConfig:
    a = cfg.axon
    return AxonConfig(max_request_bytes=a.max_request_bytes, concurrency=a.max_concurrency,
                      rate_per_s=a.rate_limit_per_s, min_stake=a.min_stake, refusal_hold_s=a.refusal_hold_s,
                      tls_cert_file=a.tls_cert, tls_key_file=a.tls_key)


def make_forward(spec, model):
    """The synapse handler: validate the request against the spec, run the model, validate the answer."""
    def forward(call: Call):
        try:
            spec.validate_request(call.tensors)
        except ValueError as e:
            raise Reject(ReturnCode.INVALID_REQUEST, str(e)) from None
        with torch.no_grad():
            out = model.forward(call.tensors)
        spec.validate_response(out, call.tensors)  # a bug here is ours: SERVER_ERROR, not a bad answer
        return out
    return forward


def require_uid(chain: Chain, netuid: int, hotkey: str) -> int:
    uid = chain.uid(netuid, hotkey)
    if uid is None:
        raise NotRegisteredError(f"hotkey {hotkey} is not registered on subnet {netuid}",
                                 hint=f"run `neuron register --netuid {netuid}` with this wallet")
    return uid


async def serve(cfg: NeuronConfig, *, spec, model, hotkey, chain: Chain, sync_s: float = 12.0) -> None:
    netuid = cfg.chain.netuid
    uid = require_uid(chain, netuid, hotkey.ss58_address)
    sync = MetagraphSync(chain, netuid, sync_s)
    axon = Axon(hotkey, caller_info=sync.caller_info, host=cfg.axon.host, port=cfg.axon.port, config=axon_config(cfg))
    axon.attach(spec.synapse, make_forward(spec, model))
    port = await axon.start()
    ip = cfg.axon.external_ip or "127.0.0.2"
    chain.serve_axon(netuid, hotkey, ip, port)
    log.info("miner uid %d serving %s (%s) on %s:%d, announced %s:%d", uid, spec.name, cfg.miner.model,
             cfg.axon.host, port, ip, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=sync_s)
            except asyncio.TimeoutError:
                mg = sync.refresh()
                log.info("block %d: incentive %.4f, stake %.1f TAO, queue %d", mg.block,
                         mg.incentive[uid] if uid < mg.n else 0.0, mg.stake[uid] if uid < mg.n else 0.0,
                         axon.queue_depth)
    finally:
        log.info("miner stopping: draining in-flight requests")
        await axon.stop()
