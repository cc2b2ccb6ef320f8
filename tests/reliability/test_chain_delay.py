"""Issue 14, finding 6 on the real runtime: the chain behind a TCP proxy that adds 2 s to every answer
of the node (tests/chain/tcp_proxy.py's proxy, with a delay). The miner (`neurons.miner.serve`,
metagraph refresh every 0.3 s) keeps its p99 to a validator within 2x (+100 ms) of the same run
without delay, because its chain calls run on neurons/chainio.py's thread. The dev-ledger version of this
test, with the validator API and weights, is tests/neurons/test_hardening_chainio.py.

Skips, saying what is missing and how to get it, without the local runtime (Chopsticks + chain spec).
"""
from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path

import pytest
from substrateinterface import Keypair

sys.path.insert(0, str(Path(__file__).parents[1] / "chain"))
from localnet_fixture import local_chain  # noqa: E402,F401  (pytest fixture)
from tcp_proxy import ChainProxy  # noqa: E402

from chain.localnet.local import LocalChain  # noqa: E402
from neurons.config.schema import NeuronConfig  # noqa: E402
from neurons.dendrite import Dendrite, Endpoint  # noqa: E402
from neurons.miner import serve  # noqa: E402
from neurons.runtime import SWITCH_INTERVAL_S  # noqa: E402
from subnets.registry import get  # noqa: E402

pytestmark = pytest.mark.localnet
IP = "127.0.0.2"
DELAY_S = 2.0
ALICE, MINER, VALI = (Keypair.create_from_uri(u) for u in ("//Alice", "//DelayMinerHot", "//DelayValiHot"))


class DelayProxy(ChainProxy):
    """The test proxy, plus `delay_s` added before every message of the node reaches the client."""

    delay_s = 0.0

    def _pump(self, src: socket.socket, dst: socket.socket, from_node: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_node and self.delay_s:
                    time.sleep(self.delay_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


def test_a_slow_chain_rpc_does_not_slow_the_miner(local_chain):
    c = local_chain
    netuid = c.create_subnet(ALICE)
    c.register(netuid, MINER.ss58_address, ALICE)
    c.register(netuid, VALI.ss58_address, ALICE)   # a registered caller: answers, not (tarpitted) refusals
    spec = get("text-embedding")
    port = int(c.url.rsplit(":", 1)[1])
    proxy = DelayProxy(port)

    async def pings(delay_s: float) -> list[float]:
        slow = LocalChain(proxy.url)
        with socket.socket() as s:
            s.bind((IP, 0))
            axon_port = s.getsockname()[1]
        cfg = NeuronConfig(chain={"netuid": netuid, "url": proxy.url},
                           axon={"host": IP, "port": axon_port, "external_ip": IP, "require_validator_permit": False,
                                 "min_stake": 0.0}, miner={"model": "bow"})
        miner = asyncio.create_task(serve(cfg, spec=spec, model=spec.miners()["bow"](0), hotkey=MINER,
                                          chain=slow, sync_s=0.3))
        request = spec.request_from_text(["open a socket", "read a file"])
        ep, out = Endpoint(MINER.ss58_address, IP, axon_port, 0), []
        try:
            async with Dendrite(VALI) as d:
                for _ in range(200):   # until it serves and its metagraph knows the caller
                    if (await d.query([ep], spec.synapse, request, timeout=1))[0].ok:
                        break
                    await asyncio.sleep(0.1)
                proxy.delay_s = delay_s
                end = time.monotonic() + 4.0
                while time.monotonic() < end:
                    [r] = await d.query([ep], spec.synapse, request, timeout=5)
                    assert r.ok, r
                    out.append(r.latency_s)
                    await asyncio.sleep(0.02)
        finally:
            proxy.delay_s = 0.0
            miner.cancel()
            await asyncio.gather(miner, return_exceptions=True)
            slow.close()
        return out

    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)   # as `neuron miner` runs (runtime.prepare_to_serve), both runs alike
    try:
        base = asyncio.run(pings(0.0))
        slow = asyncio.run(pings(DELAY_S))
    finally:
        sys.setswitchinterval(interval)
        proxy.close()
    print(f"miner p99 on the real runtime: {p99(base) * 1e3:.1f} ms without delay, {p99(slow) * 1e3:.1f} ms "
          f"with {DELAY_S:g} s per chain answer")
    # chain I/O on the serving loop would stall answers by DELAY_S (2 s); +100 ms absorbs the scheduling
    # noise of a loaded 2-core machine running Chopsticks beside it (measured once at +18 ms in the suite)
    assert p99(slow) <= 2 * p99(base) + 0.100, (p99(base), p99(slow))
