"""The validator process outlives a chain outage: a step that cannot reach the chain is redone later.

FakeFlakyChain is the dev ledger whose metagraph reads fail with ChainConnectionError (what the
subtensor client raises once its reconnect budget is spent) for the first N calls after `fail(N)`.
The real-runtime side of the same story (reconnect, re-send, land once) is test_chain_drop.py.
"""
from __future__ import annotations

import asyncio

from chain.dev import DevChain
from chain.errors import ChainConnectionError
from harness import hotkey_of
from neurons.config.schema import NeuronConfig
from neurons.localsubnet.plan import NeuronPlan
from neurons.localsubnet.runner import LocalSubnet
from neurons.validator.loop import Validator
from neurons.validator.state import read_state
from subnets.text_embedding import TextEmbedding


class FakeFlakyChain(DevChain):
    failures = 0

    def fail(self, n: int) -> None:
        self.failures = n

    def metagraph(self, netuid, block=None):
        if self.failures:
            self.failures -= 1
            raise ChainConnectionError("chain at ws://127.0.0.1:9944 unreachable: ConnectionRefusedError")
        return super().metagraph(netuid, block)


def test_validator_run_survives_a_chain_outage(tmp_path, caplog):
    chain = FakeFlakyChain(str(tmp_path / "chain.sqlite"))
    try:
        sub = LocalSubnet(chain, chain.url, "text-embedding", [NeuronPlan("validator", "validator", stake_tao=10)],
                          tmp_path, api=False)
        sub.create({})
        sub.register_all()
        cfg = NeuronConfig(chain={"url": chain.url, "netuid": sub.netuid}, subnet={"name": "text-embedding"},
                           validator={"state_dir": str(tmp_path / "state"), "batch_size": 4})
        v = Validator(cfg, spec=TextEmbedding(), hotkey=hotkey_of("validator"), chain=chain)
        v.sync.interval_s = 0          # read the chain every step
        chain.fail(1)
        asyncio.run(v.run(max_steps=3))
    finally:
        chain.close()
    assert v.state.step == 3 and read_state(v.store.path).step == 3
    assert "chain unreachable, step 0 not done" in caplog.text
