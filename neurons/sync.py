"""The neuron's view of its subnet: the latest metagraph, refreshed at most every `interval_s`.

A refresh swaps one reference (no copies); readers see either the old or the new metagraph.
"""
from __future__ import annotations

import logging
import time

from chain import Chain, Metagraph
from neurons.axon.routes import CallerInfo

log = logging.getLogger("opensubnet.sync")


class MetagraphSync:
    def __init__(self, chain: Chain, netuid: int, interval_s: float = 12.0):
        self.chain, self.netuid, self.interval_s = chain, netuid, interval_s
        self.metagraph: Metagraph = chain.metagraph(netuid)
        self._index = self._build_index(self.metagraph)
        self._at = time.monotonic()

    @staticmethod
    def _build_index(mg: Metagraph) -> dict[str, CallerInfo]:
        return {hk: CallerInfo(uid=uid, stake=float(mg.stake[uid]), validator_permit=bool(mg.validator_permit[uid]))
                for uid, hk in enumerate(mg.hotkeys)}

    def refresh(self, force: bool = False) -> Metagraph:
        if force or time.monotonic() - self._at >= self.interval_s:
            mg = self.chain.metagraph(self.netuid)
            self._index = self._build_index(mg)
            self.metagraph = mg
            self._at = time.monotonic()
            log.debug("metagraph of subnet %d at block %d: %d uids", self.netuid, mg.block, mg.n)
        return self.metagraph

    def caller_info(self, hotkey: str) -> CallerInfo | None:
        """For the axon: what the chain says about a caller (None = not registered)."""
        return self._index.get(hotkey)
