"""The miner process: serve a subnet's model behind an axon and keep the chain's view fresh.

    preflight (registered, an address the chain accepts and validators reach, a free port) → build the
    model → axon.attach(synapse) → start → serve_axon on chain →
    refresh the metagraph (callers' stake and permits) every `sync_s` until stopped.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal

import torch

from chain import Chain
from chain.errors import ChainError, NotRegisteredError
from neurons.address import announce_address, check_bind
from neurons.axon import Axon
from neurons.axon.routes import Call, Reject
from neurons.batching import Batcher, batchable, batching_enabled, pick_device, place, run_model
from neurons.chainio import ChainIO
from neurons.config.schema import NeuronConfig
from neurons.metrics_server import check_port
from neurons.sync import MetagraphSync
from protocol.codes import ReturnCode

log = logging.getLogger("opensubnet.miner")


def make_forward(spec, model, device: torch.device = torch.device("cpu"), batcher: Batcher | None = None):
    """The synapse handler: validate the request against the spec, run the model on `device` (merged with
    concurrent requests when a batcher is given, neurons/batching.py), validate the answer."""
    def check(call: Call) -> None:
        try:
            spec.validate_request(call.tensors)
        except ValueError as e:
            raise Reject(ReturnCode.INVALID_REQUEST, str(e)) from None

    if batcher is not None:
        async def batched(call: Call):
            check(call)
            out = await batcher.submit(call.tensors, call.deadline)
            spec.validate_response(out, call.tensors)  # a bug here is ours: SERVER_ERROR, not a bad answer
            return out
        return batched

    def forward(call: Call):
        check(call)
        out = run_model(model.forward, call.tensors, device)
        spec.validate_response(out, call.tensors)
        return out
    return forward


def model_runner(cfg: NeuronConfig, spec, model) -> tuple[torch.device, Batcher | None]:
    """Put the model on its device; a batcher when batching is on for it (cuda, or asked) and the spec allows it."""
    m = cfg.miner
    device = pick_device(m.device)
    place(model, device)
    if not batching_enabled(m.batching, device):
        log.info("model on %s, one forward per request (batching %s)", device, m.batching)
        return device, None
    if not batchable(spec):
        log.warning("model on %s, one forward per request: %s does not declare its rows independent "
                    "(rows_independent, with the batch as dim 0 of every tensor)", device, spec.name)
        return device, None
    if device.type == "cpu":  # one merged forward at a time: it gets every core instead of one per handler slot
        torch.set_num_threads(os.cpu_count() or 1)
    log.info("model on %s, requests merged up to %d rows, waiting at most %g ms", device, m.batch_max_rows,
             m.batch_max_wait_ms)
    return device, Batcher(model.forward, device=device, max_rows=m.batch_max_rows,
                           max_wait_s=m.batch_max_wait_ms / 1e3, pad=spec.batch_pad)


def axon_section(axon, batcher: Batcher | None):
    """The axon's settings for this model: a batch gathers requests while they hold handler slots, so with a
    batcher the slots allow a full batch gathering while another runs."""
    if batcher is None or axon.concurrency >= 2 * batcher.max_rows:
        return axon
    return axon.model_copy(update={"concurrency": 2 * batcher.max_rows})


def require_uid(chain: Chain, netuid: int, hotkey: str) -> int:
    uid = chain.uid(netuid, hotkey)
    if uid is None:
        raise NotRegisteredError(f"hotkey {hotkey} is not registered on subnet {netuid}",
                                 hint=f"run `neuron register --netuid {netuid}` with this wallet")
    return uid


def preflight(cfg: NeuronConfig) -> tuple[str, str]:
    """(IP to announce, how it was chosen), checked before the chain is dialled and the model loads: an
    address validators can reach that the chain accepts, and a free port; else an AddressError saying why."""
    ip, how = announce_address(cfg.axon.host, cfg.axon.external_ip, cfg.chain.url)
    check_bind(cfg.axon.host, cfg.axon.port)
    check_port(cfg.metrics.port, cfg.metrics.host, "axon metrics")
    return ip, how


async def serve(cfg: NeuronConfig, *, spec, model, hotkey, chain: Chain, sync_s: float = 12.0) -> None:
    netuid = cfg.chain.netuid
    uid = require_uid(chain, netuid, hotkey.ss58_address)
    ip, how = preflight(cfg)
    sync = MetagraphSync(chain, netuid, sync_s)
    chainio = ChainIO(cfg.chain.call_timeout_s)  # chain calls after start: off the axon's loop
    device, batcher = model_runner(cfg, spec, model)
    axon = Axon(hotkey, caller_info=sync.caller_info, host=cfg.axon.host, port=cfg.axon.port,
                config=axon_section(cfg.axon, batcher), metrics_port=cfg.metrics.port, metrics_host=cfg.metrics.host)
    axon.attach(spec.synapse, make_forward(spec, model, device, batcher))
    port = await axon.start()
    try:
        await chainio.run(chain.serve_axon, netuid, hotkey, ip, port)
    except BaseException:  # stop the server on this loop: no "Event loop is closed" at exit
        await axon.stop(0)
        if batcher is not None:
            await batcher.close()
        raise
    log.info("miner uid %d serving %s (%s) on %s:%d, announced %s:%d (%s)", uid, spec.name, cfg.miner.model,
             cfg.axon.host, port, ip, port, how)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=sync_s)
            except asyncio.TimeoutError:
                try:
                    mg = await chainio.run(sync.refresh)  # off the axon's loop
                except ChainError as e:  # keep serving with the metagraph we have
                    log.warning("metagraph not refreshed (%s); serving with the one from block %d",
                                e, sync.metagraph.block)
                    continue
                log.info("block %d: incentive %.4f, stake %.1f TAO, queue %d", mg.block,
                         mg.incentive[uid] if uid < mg.n else 0.0, mg.stake[uid] if uid < mg.n else 0.0,
                         axon.queue_depth)
    finally:
        log.info("miner stopping: draining in-flight requests")
        await axon.stop()
        if batcher is not None:
            await batcher.close()
