"""The validator process: challenge → gate → query → learn/score → weights → save, step after step.

State (scores, gate, optimizer, step, last weights block) is saved atomically after every step,
so a kill -9 resumes from the last finished step; weights go on chain at most once per
`weights_interval_blocks`, after the chain's own rules were checked (a skip is one log line).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import signal
from pathlib import Path

import torch

from chain import Chain
from chain.errors import ChainConnectionError, ChainError
from chain.weights import explain_weights_rejection, scores_to_u16
from neurons.config.schema import NeuronConfig
from neurons.dendrite import Dendrite
from neurons.dendrite.result import Endpoint
from neurons.miner import require_uid
from neurons.sync import MetagraphSync
from neurons.validator.api import API_PROTOCOL, checked_output, serve_api
from neurons.validator.config import GateConfig, MoEConfig, ScoringConfig
from neurons.validator.moe import MoE
from neurons.validator.state import StateStore, ValidatorState

log = logging.getLogger("opensubnet.validator")


def moe_config(cfg: NeuronConfig) -> MoEConfig:
    v = cfg.validator
    share = min(v.exploration, 0.9)
    explore = math.ceil(share * v.top_k / (1 - share)) if share > 0 else 0
    return MoEConfig(gate=GateConfig(top_k=v.top_k, explore=explore), scoring=ScoringConfig(ema_alpha=v.ema_alpha))


def challenge_seed(hotkey: str, netuid: int, step: int) -> int:
    """Deterministic per (validator, subnet, step): a logged seed replays the exact challenge."""
    digest = hashlib.sha256(f"{hotkey}:{netuid}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


class Validator:
    def __init__(self, cfg: NeuronConfig, *, spec, hotkey, chain: Chain):
        self.cfg, self.spec, self.hotkey, self.chain = cfg, spec, hotkey, chain
        self.netuid = cfg.chain.netuid
        self.uid = require_uid(chain, self.netuid, hotkey.ss58_address)
        self.sync = MetagraphSync(chain, self.netuid, interval_s=2.0)
        self.store = StateStore(Path(cfg.validator.state_dir) / f"{hotkey.ss58_address[:12]}-net{self.netuid}")
        mg = self.sync.metagraph
        saved = self.store.load()
        if saved is None:
            self.state = ValidatorState(moe={})
            self.moe = MoE(spec.feature_dim, mg.hotkeys, moe_config(cfg), seed=self.uid)
        else:
            self.state = saved
            self.moe = MoE.from_state_dict(saved.moe, moe_config(cfg))
            log.info("resumed at step %d (last weights at block %d)", saved.step, saved.last_weights_block)

    def serving_mask(self, mg) -> torch.Tensor:
        """[n_uids] bool: uids serving a miner axon on chain (not a validator's API), other than this validator."""
        mask = torch.tensor([a is not None and a.serving and a.protocol != API_PROTOCOL for a in mg.axons],
                            dtype=torch.bool)
        if self.uid < mask.numel():
            mask[self.uid] = False
        return mask

    async def step(self, dendrite: Dendrite) -> None:
        mg = self.sync.refresh()
        self.moe.sync(mg.hotkeys)
        seed = challenge_seed(self.hotkey.ss58_address, self.netuid, self.state.step)
        ch = self.spec.challenge(seed, self.cfg.validator.batch_size)
        feats = self.spec.features(ch)                      # [batch, d_feat]
        route = self.moe.select(feats, self.serving_mask(mg))
        uids = route.uids.tolist()
        endpoints = [Endpoint(mg.hotkeys[u], mg.axons[u].ip, mg.axons[u].port, u) for u in uids]
        results = await dendrite.query(endpoints, self.spec.synapse, ch.request, timeout=self.cfg.dendrite.timeout_s)
        outputs = [checked_output(self.spec, r, ch.request) for r in results]
        res = self.moe.learn(self.spec, ch, feats, route, outputs)
        codes = " ".join(f"{u}:{r.code.name[:4]}/{s:.3f}" for u, r, s in zip(uids, results, res.scores.tolist()))
        log.info("step %d seed %d loss %.4f | uid:code/score %s", self.state.step, seed, res.loss, codes or "(none serving)")
        self.state.step += 1
        self.state.last_seed = seed
        self.maybe_set_weights(mg)
        self.state.moe = self.moe.state_dict()
        self.store.save(self.state)

    def maybe_set_weights(self, mg) -> None:
        block = self.chain.block()
        if self.state.last_weights_block >= 0 and block - self.state.last_weights_block < self.cfg.validator.weights_interval_blocks:
            return
        weights = self.moe.weights().numpy()
        if not weights.any():
            log.info("weights skipped at block %d: no miner scored yet", block)
            return
        hp = self.chain.hyperparameters(self.netuid)
        uids, values = scores_to_u16(weights, min_allowed_weights=hp.min_allowed_weights,
                                     max_weight_limit=hp.max_weight_limit)
        # checked against the current block, the earliest an extrinsic can land in (the dev ledger in
        # real-time mode puts it there; a node in the next one): never a submission inside the rate limit
        reason = explain_weights_rejection(mg, hp, self.hotkey.ss58_address, uids, values,
                                           hp.weights_version, block=block)
        if reason:
            log.info("weights skipped at block %d: %s", block, reason)
            return
        try:
            self.chain.set_weights(self.netuid, self.hotkey, uids, values, version_key=hp.weights_version)
        except ChainError as e:
            log.warning("weights rejected at block %d: %s (retrying next step)", block, e)
            return
        self.state.last_weights_block = block
        log.info("weights set at block %d on %d uids: %s", block, len(uids),
                 ", ".join(f"{u}={v}" for u, v in zip(uids, values)))

    async def run(self, max_steps: int | None = None, pause_s: float = 0.0) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Dendrite(self.hotkey, max_concurrency=self.cfg.dendrite.max_concurrency) as dendrite:
            api = await serve_api(self, dendrite) if self.cfg.validator.api_port is not None else None
            try:
                n = outage = 0
                while not stop.is_set() and (max_steps is None or n < max_steps):
                    try:
                        await self.step(dendrite)
                    except ChainConnectionError as e:  # the node restarts or the network blips: redo the step
                        outage += 1
                        wait = min(2.0 ** outage, 60.0)
                        log.warning("chain unreachable, step %d not done (%s); retrying in %.0fs", self.state.step, e, wait)
                        await _wait(stop, wait)
                        continue
                    outage = 0
                    n += 1
                    if pause_s:
                        await _wait(stop, pause_s)
            finally:
                if api is not None:
                    await api[0].stop()
        log.info("validator stopped after step %d; state saved in %s", self.state.step, self.store.dir)
