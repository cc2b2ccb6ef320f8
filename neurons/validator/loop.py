"""The validator process: challenge → gate → query → learn/score → weights → save, step after step.

State (scores, gate, optimizer, step, last weights block) is saved atomically after every step,
so a kill -9 resumes from the last finished step; weights go on chain through the WeightSubmitter
(neurons/validator/submit.py: set, or commit then reveal, with its own crash-safe record).
"""
from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import torch

from chain import Chain
from chain.errors import ChainConnectionError
from neurons.chainio import ChainIO
from neurons.config import fill_from_subnet
from neurons.config.schema import NeuronConfig
from neurons.dendrite import Dendrite
from neurons.dendrite.result import Endpoint
from neurons.miner import require_uid
from neurons.sync import MetagraphSync
from neurons.validator.api import API_PROTOCOL, checked_output, serve_api
from neurons.validator.fanout import ask
from neurons.validator.moe import MoE
from neurons.validator.report import StepReport
from neurons.validator.seed import challenge_seed, load_or_create_secret
from neurons.validator.state import StateStore, ValidatorState
from neurons.validator.submit import WeightSubmitter

log = logging.getLogger("opensubnet.validator")


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def _until_stopped(coro, stop: asyncio.Event) -> bool:
    """Run `coro` unless `stop` is set first, which cancels it; True when it finished (its error raised)."""
    task, stopped = asyncio.ensure_future(coro), asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task in done:
        task.result()
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False


class Validator:
    def __init__(self, cfg: NeuronConfig, *, spec, hotkey, chain: Chain):
        self.cfg, self.spec, self.hotkey, self.chain = fill_from_subnet(cfg, spec), spec, hotkey, chain
        self.netuid = cfg.chain.netuid
        self.uid = require_uid(chain, self.netuid, hotkey.ss58_address)
        self.sync = MetagraphSync(chain, self.netuid, interval_s=2.0)
        self.chainio = ChainIO(cfg.chain.call_timeout_s)  # the step's chain calls run here, off the API's loop
        self.store = StateStore(Path(cfg.validator.state_dir) / f"{hotkey.ss58_address[:12]}-net{self.netuid}")
        self.secret = load_or_create_secret(self.store.dir)  # mixed into every challenge seed; never sent
        mg = self.sync.metagraph
        saved = self.store.load()
        if saved is None:
            self.state = ValidatorState(moe={})
            self.moe = MoE(spec.feature_dim, mg.hotkeys, cfg, seed=self.uid)
        else:
            self.state = saved
            self.moe = MoE.from_state_dict(saved.moe, cfg)
            log.info("resumed at step %d (last weights at block %d)", saved.step, saved.last_weights_block)
        self.weights = WeightSubmitter(chain, self.netuid, hotkey, self.store.dir,
                                       interval_blocks=cfg.validator.weights_interval_blocks,
                                       mode=cfg.validator.commit_reveal, since_block=self.state.last_weights_block)
        self.report = StepReport(self.store.dir, self.cfg.metrics)  # miners.json, the terminal table, metrics

    def serving_mask(self, mg) -> torch.Tensor:
        """[n_uids] bool: uids serving a miner axon on chain (not a validator's API), other than this validator."""
        mask = torch.tensor([a is not None and a.serving and a.protocol != API_PROTOCOL for a in mg.axons],
                            dtype=torch.bool)
        if self.uid < mask.numel():
            mask[self.uid] = False
        return mask

    async def step(self, dendrite: Dendrite) -> None:
        started = time.perf_counter()
        mg = await self.chainio.run(self.sync.refresh)
        self.moe.sync(mg.hotkeys)
        block_hash = await self.chainio.run(self.chain.block_hash, mg.block)
        seed = challenge_seed(self.secret, block_hash, self.netuid, self.state.step)
        ch = self.spec.challenge(seed, self.cfg.validator.batch_size)
        feats = self.spec.features(ch)                      # [batch, d_feat]
        route = self.moe.select(feats, self.serving_mask(mg))
        uids = route.uids.tolist()
        endpoints = [Endpoint(mg.hotkeys[u], mg.axons[u].ip, mg.axons[u].port, u) for u in uids]
        results, outputs = await ask(dendrite, self.spec, endpoints, ch.request, route,  # each miner: its rows
                                     lambda r, q: checked_output(self.spec, r, q), timeout=self.cfg.dendrite.timeout_s)
        res = self.moe.learn(self.spec, ch, feats, route, outputs)
        codes = " ".join(f"{u}:{r.code.name[:4]}/{s:.3f}" for u, r, s in zip(uids, results, res.scores.tolist()))
        log.info("step %d seed %d loss %.4f | uid:code/score %s", self.state.step, seed, res.loss, codes or "(none serving)")
        self.state.step += 1
        self.state.last_seed = seed
        weights = self.moe.weights()                         # [n_uids]
        await self.chainio.run(self.weights.submit, mg, weights.numpy())
        submitted = self.weights.last_weights_block != self.state.last_weights_block
        self.state.last_weights_block = self.weights.last_weights_block
        self.state.moe = self.moe.state_dict()
        self.store.save(self.state)
        self.report.step(step=self.state.step, block=mg.block, hotkeys=mg.hotkeys, results=results,
                         scores=self.moe.scores.tolist(), weights=weights.tolist(),
                         seconds=time.perf_counter() - started, weights_submitted=submitted,
                         weights_block=self.state.last_weights_block, why_not=self.weights.why_not)

    async def run(self, max_steps: int | None = None, pause_s: float = 0.0) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Dendrite(self.hotkey, max_concurrency=self.cfg.dendrite.max_concurrency) as dendrite:
            api = await serve_api(self, dendrite) if self.cfg.validator.api_port is not None else None
            try:
                self.report.start()
                n = outage = 0
                while not stop.is_set() and (max_steps is None or n < max_steps):
                    try:
                        if not await _until_stopped(self.step(dendrite), stop):
                            break  # stopped mid-step (a miner may take its whole timeout): the last saved step stands
                    except ChainConnectionError as e:  # the node restarts or the network blips: redo the step
                        outage += 1
                        self.report.chain_error(e)
                        wait = min(2.0 ** outage, 60.0)
                        log.warning("chain unreachable, step %d not done (%s); retrying in %.0fs", self.state.step, e, wait)
                        await _wait(stop, wait)
                        continue
                    outage = 0
                    n += 1
                    if pause_s:
                        await _wait(stop, pause_s)
            finally:
                self.report.close()
                if api is not None:
                    await api[0].stop()
        log.info("validator stopped after step %d; state saved in %s", self.state.step, self.store.dir)
