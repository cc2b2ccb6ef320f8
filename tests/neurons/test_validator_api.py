"""The validator as an API, in-process over real gRPC on loopback with real keys on the dev ledger:
the answer is the gate's top-k mixture, callers pay in stake, and API traffic never trains the gate."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest
import torch
from substrateinterface import Keypair

from chain.dev import DevChain
from chain.types import RAO_PER_TAO
from neurons.axon import Axon
from neurons.config.schema import NeuronConfig
from neurons.dendrite import Dendrite, Endpoint
from neurons.localsubnet.plan import NeuronPlan
from neurons.localsubnet.runner import LocalSubnet
from neurons.miner import make_forward
from neurons.sync import MetagraphSync
from neurons.validator.api import API_PROTOCOL, AppQuery, mixture_synapse, serve_api
from neurons.validator.api_client import read_answer
from neurons.validator.loop import Validator
from neurons.validator.routing import masked_softmax
from neurons.wallet import DevWallet
from protocol.codes import ReturnCode
from subnets.registry import get

IP = "127.0.0.2"
TEXTS = ["read the whole file and return its bytes", "open a tcp socket to a host",
         "parse a json document into python objects"]
MINERS = [("bow", 0), ("random", 0), ("random", 1), ("random", 2)]
# callers: stake in TAO; "broke" is registered without stake, "outsider" is staked on another subnet only
CALLERS = {"rich": 2000, "poor": 20, "broke": 0}
NET_SPEC = get("text-embedding")
API = {"api_port": 0, "api_host": IP, "api_min_stake": 5.0, "api_rate_per_s": 1.0,
       "api_rate_per_tao": 0.01, "api_rate_max": 100.0, "api_burst_s": 1.0}


@dataclass
class Net:
    chain: DevChain
    url: str
    netuid: int
    spec: object
    models: dict


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    url = f"dev:{tmp / 'chain.sqlite'}"
    chain = DevChain(str(tmp / "chain.sqlite"))
    spec = get("text-embedding")
    plan = [NeuronPlan("validator", "api-vali", stake_tao=1000)]
    plan += [NeuronPlan("miner", f"api-m{i}", model=m, seed=s) for i, (m, s) in enumerate(MINERS)]
    plan += [NeuronPlan("validator", f"api-{name}", stake_tao=tao) for name, tao in CALLERS.items()]
    sub = LocalSubnet(chain, url, spec.name, plan, tmp)
    sub.create({"serving_rate_limit": 0})
    sub.register_all()
    alice, out = Keypair.create_from_uri("//Alice"), DevWallet("//opensubnet/api-outsider")
    other = chain.create_subnet(alice)
    chain.transfer(alice, out.coldkey().ss58_address, 500 * RAO_PER_TAO)
    chain.register(other, out.hotkey().ss58_address, out.coldkey())
    chain.add_stake(out.coldkey(), out.hotkey().ss58_address, 100 * RAO_PER_TAO)
    models = {f"api-m{i}": spec.miners()[m](s) for i, (m, s) in enumerate(MINERS)}
    yield Net(chain, url, sub.netuid, spec, models)
    chain.close()


def key(name: str) -> Keypair:
    return DevWallet(f"//opensubnet/api-{name}").hotkey()


@contextlib.asynccontextmanager
async def running(net: Net, tmp_path, **api):
    """Miners (real reference models behind axons) and a validator with its API, on this event loop."""
    sync = MetagraphSync(net.chain, net.netuid)
    axons = []
    for name, model in net.models.items():
        kp = DevWallet(f"//opensubnet/{name}").hotkey()
        ax = Axon(kp, caller_info=sync.caller_info, host=IP, port=0)
        ax.attach(net.spec.synapse, make_forward(net.spec, model))
        net.chain.serve_axon(net.netuid, kp, IP, await ax.start())
        axons.append(ax)
    cfg = NeuronConfig(chain={"url": net.url, "netuid": net.netuid},
                       validator={"state_dir": str(tmp_path / "state"), "batch_size": 8, **API, **api}, gate={"top_k": 2})
    vali = Validator(cfg, spec=net.spec, hotkey=key("vali"), chain=net.chain)
    vali.sync.refresh(force=True)
    try:
        async with Dendrite(vali.hotkey) as dendrite:
            axon, handler = await serve_api(vali, dendrite)
            try:
                yield vali, dendrite, axon, handler
            finally:
                await axon.stop(0)
    finally:
        for ax in axons:
            await ax.stop(0)


async def ask(caller: Keypair, axon: Axon, request, n: int = 1):
    """n concurrent API requests from `caller`; their results."""
    async with Dendrite(caller) as d:
        ep = Endpoint(axon.hotkey, IP, axon.port)
        return await asyncio.gather(*[d.query([ep], mixture_synapse(NET_SPEC), request, timeout=10) for _ in range(n)])


def gate_state(vali: Validator) -> dict:
    sd = vali.moe.state_dict()
    return {"gate": {k: v.clone() for k, v in sd["gate"].items()}, "scores": sd["scores"].clone(),
            "optimizer": repr(sd["optimizer"])}


def test_answer_is_the_mixture_of_the_gates_top_k(net, tmp_path):
    spec = net.spec
    request = spec.request_from_text(TEXTS)

    async def main():
        async with running(net, tmp_path) as (vali, dendrite, axon, api):
            for _ in range(3):                       # a few scoring steps first: the gate has learned something
                await vali.step(dendrite)
            on_chain = net.chain.metagraph(net.netuid)
            assert (on_chain.axons[vali.uid].protocol, on_chain.axons[vali.uid].port) == (API_PROTOCOL, axon.port)
            assert not vali.serving_mask(on_chain)[vali.uid]  # validators never route challenges to an API
            before = gate_state(vali)
            (res,) = (await ask(key("rich"), axon, request))[0]
            assert res.ok, res
            answer = read_answer(spec, res, request)
            after = gate_state(vali)
            # the same miners asked directly, mixed by the validator's gate through moe.mix and spec.combine
            feats = spec.features(AppQuery(request))
            mg = vali.sync.metagraph
            serving = vali.serving_mask(mg)
            logits = vali.moe.trainer.gate(feats).detach()                          # [batch, n_uids]
            top = logits.masked_fill(~serving, float("-inf")).topk(2, dim=1).indices  # [batch, 2]: each row's own
            route = vali.moe.select(feats, serving, explore=False)
            eps = [Endpoint(mg.hotkeys[u], mg.axons[u].ip, mg.axons[u].port, u) for u in route.uids.tolist()]
            outputs = [r.tensors for r in await dendrite.query(eps, spec.synapse, request, timeout=10)]
            mixture, weights = vali.moe.mix(spec, feats, route, outputs)
            manual_w = masked_softmax(logits[:, route.uids], route.rows)           # each row over its own top 2
            return answer, top, route, mixture, weights, spec.combine(outputs, manual_w), manual_w, before, after

    answer, top, route, mixture, weights, manual, manual_w, before, after = asyncio.run(main())
    # the route is the union of the rows' top 2 (rows may differ once the gate has learned), each row sent to its own
    assert sorted(answer.uids) == sorted(set(top.flatten().tolist())) == sorted(route.uids.tolist())
    routed = route.uids.tolist()
    assert all(sorted(routed[j] for j in route.rows[b].nonzero().flatten().tolist()) == sorted(top[b].tolist())
               for b in range(len(TEXTS)))
    assert answer.uids == route.uids.tolist()
    assert answer.mixture.shape == (len(TEXTS), len(TEXTS))
    assert torch.allclose(answer.mixture, mixture, atol=1e-5)
    assert torch.allclose(answer.mixture, manual, atol=1e-5)
    assert torch.allclose(answer.weights, weights, atol=1e-6) and torch.allclose(answer.weights, manual_w, atol=1e-6)
    assert torch.allclose(answer.weights.sum(1), torch.ones(len(TEXTS)), atol=1e-5)
    assert answer.fields["subnet"] == "text-embedding" and answer.fields["netuid"] == str(net.netuid)
    lines = NET_SPEC.render(answer.mixture, request)
    assert len(lines) == len(TEXTS) and all("closest to text" in line for line in lines)
    # API traffic reads the gate, never trains it or touches the scores
    assert all(torch.equal(before["gate"][k], after["gate"][k]) for k in before["gate"])
    assert torch.equal(before["scores"], after["scores"]) and before["optimizer"] == after["optimizer"]


async def ask_twice(kp, axon, request):
    """A hotkey off this subnet: the first ask is refused while its stake is looked up on chain (off
    the API's loop); the answer after that look-up."""
    first = (await ask(kp, axon, request))[0][0]
    assert first.code == ReturnCode.RATE_LIMITED and "looked up on chain" in first.message, first
    await asyncio.sleep(0.5)
    return (await ask(kp, axon, request))[0][0]


def test_low_stake_and_unknown_callers_are_blacklisted_before_the_handler(net, tmp_path):
    request = net.spec.request_from_text(TEXTS)

    async def main():
        async with running(net, tmp_path) as (vali, dendrite, axon, api):
            broke = (await ask(key("broke"), axon, request))[0][0]
            stranger = await ask_twice(Keypair.create_from_uri("//NobodyAtAll"), axon, request)
            handled_after_refusals = api.handled
            outsider = await ask_twice(DevWallet("//opensubnet/api-outsider").hotkey(), axon, request)
            bad = await ask(key("rich"), axon, {"query_ids": request["query_ids"]})
            return broke, stranger, handled_after_refusals, outsider, bad[0][0], api.handled

    broke, stranger, handled, outsider, bad, handled_end = asyncio.run(main())
    assert broke.code == ReturnCode.BLACKLISTED and "below the API minimum" in broke.message
    assert stranger.code == ReturnCode.BLACKLISTED
    assert handled == 0                                   # the handler never ran for them
    assert outsider.ok, outsider                          # staked on another subnet: served via chain.stake
    assert bad.code == ReturnCode.INVALID_REQUEST and "code_ids" in bad.message
    assert handled_end == 2


def test_more_stake_buys_more_requests_per_second(net, tmp_path):
    request = net.spec.request_from_text(TEXTS[:2])

    async def main():
        async with running(net, tmp_path) as (vali, dendrite, axon, api):
            rich, poor = await asyncio.gather(ask(key("rich"), axon, request, 12), ask(key("poor"), axon, request, 12))
            return [r[0].code for r in rich], [r[0].code for r in poor]

    rich, poor = asyncio.run(main())
    # rates: rich 1 + 0.01 * 2000 = 21/s (burst 21), poor 1 + 0.01 * 20 = 1.2/s (burst 1.2)
    assert set(rich) | set(poor) <= {ReturnCode.SUCCESS, ReturnCode.RATE_LIMITED}
    assert rich.count(ReturnCode.SUCCESS) >= 10
    assert 1 <= poor.count(ReturnCode.SUCCESS) <= 4 and ReturnCode.RATE_LIMITED in poor  # 1 + what refilled meanwhile


def test_api_and_scoring_loop_share_the_event_loop(net, tmp_path):
    request = net.spec.request_from_text(TEXTS)

    async def main():
        async with running(net, tmp_path) as (vali, dendrite, axon, api):
            async def steps():
                for _ in range(3):
                    await vali.step(dendrite)
            _, answers = await asyncio.gather(steps(), ask(key("rich"), axon, request, 6))
            return vali.state.step, answers

    steps, answers = asyncio.run(main())
    assert steps == 3
    assert all(r[0].ok for r in answers), answers
