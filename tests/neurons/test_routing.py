"""Per-input routing, a real sparse MoE: each row reaches its own top-k, each miner gets only its rows."""
import pytest
import torch

from neurons.config.schema import GateSection, NeuronConfig
from neurons.validator.contract import place_rows, select_rows
from neurons.validator.fanout import place_outputs, sub_requests
from neurons.validator.moe import MoE
from neurons.validator.routing import Route
from validator_fakes import FakeMiner, FakeSpec, one_torch_thread, run_steps  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class TwoDomains(FakeSpec):
    """Inputs from two domains told apart by the sign of x[:, 0] (|x0| >= 1, like code vs prose)."""

    def challenge(self, seed):
        ch = super().challenge(seed)
        ch.x[:, 0] = torch.sign(ch.x[:, 0]) * (1 + ch.x[:, 0].abs())
        return ch


def specialists():
    """uid 0 is good on x0 > 0, uid 1 on x0 < 0; four generalists are mediocre everywhere."""
    return [FakeMiner(0.1, 1.5, seed=1), FakeMiner(1.5, 0.1, seed=2)] + [FakeMiner(0.6 + 0.1 * i, seed=3 + i)
                                                                          for i in range(4)]


def test_each_input_reaches_its_specialist_and_the_mixture_nears_the_per_input_oracle():
    spec, miners = TwoDomains(), specialists()
    moe = MoE(4, [f"hk{i}" for i in range(6)], NeuronConfig(gate=GateSection(top_k=2, explore=1)))
    run_steps(moe, spec, miners, 150)
    reached, mixed, oracle = [], [], []
    for s in range(4):
        ch = spec.challenge(50_000 + s)
        route = moe.select(ch.x, torch.ones(6, dtype=torch.bool), explore=False)
        right = torch.where(ch.x[:, 0] > 0, 0, 1)                           # [batch] the specialist's uid
        hit = (route.uids.unsqueeze(0) == right.unsqueeze(1)) & route.rows  # [batch, k]
        reached.append(hit.any(1).float().mean())
        outs = [m.answer(ch) for m in miners]
        mixture, _ = moe.mix(spec, ch.x, route, [outs[u] for u in route.uids.tolist()])
        mixed.append(spec.loss(mixture, ch).mean())
        oracle.append(torch.where(right == 0, spec.loss(outs[0]["y"], ch), spec.loss(outs[1]["y"], ch)).mean())
    assert float(torch.stack(reached).mean()) >= 0.95
    assert float(torch.stack(mixed).mean()) <= 1.5 * float(torch.stack(oracle).mean())
    assert (route.rows.sum(1) == 2).all() and not route.rows.all(0).any()  # sparse: 2 per row, no miner sees all


@pytest.mark.parametrize("balance_weight, spread", [(0.01, True), (0.0, False)])
def test_the_balancing_term_spreads_load_over_equal_experts(balance_weight, spread):
    spec, miners = FakeSpec(), [FakeMiner(0.5, seed=i) for i in range(4)]
    moe = MoE(4, [f"hk{i}" for i in range(4)],
              NeuronConfig(gate=GateSection(top_k=1, explore=0, balance_weight=balance_weight)))
    run_steps(moe, spec, miners, 120)
    load = torch.zeros(4)
    for s in range(3):
        route = moe.select(spec.challenge(70_000 + s).x, torch.ones(4, dtype=torch.bool), explore=False)
        load[route.uids] += route.rows.float().sum(0)
    share = load / load.sum()
    assert bool(share.max() <= 0.45) is spread, share  # without it one expert takes (nearly) all


def test_each_miner_receives_only_its_rows_and_answers_go_back_in_place():
    spec = FakeSpec(batch=5)
    request = {"x": torch.arange(10.0).view(5, 2), "ids": torch.arange(5)}
    rows = torch.tensor([[1, 0, 1], [0, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 1]], dtype=torch.bool)
    route = Route(torch.tensor([3, 7, 9]), rows, torch.tensor([False, False, True]), torch.ones(10, dtype=torch.bool))
    reqs = sub_requests(spec, request, route)
    assert reqs[0]["ids"].tolist() == [0, 2, 4] and reqs[1]["ids"].tolist() == [1, 4]
    assert torch.equal(reqs[0]["x"], request["x"][[0, 2, 4]])
    assert reqs[2] is request                       # explored: every row, the request itself (one shared query)
    answers = [{"y": r["x"] * 10} for r in reqs[:2]] + [None]
    placed = place_outputs(spec, answers, route)
    assert placed[0]["y"][[0, 2, 4]].tolist() == (request["x"][[0, 2, 4]] * 10).tolist()
    assert torch.all(placed[0]["y"][[1, 3]] == 0) and placed[2] is None


def test_a_spec_whose_rows_are_not_separable_sends_the_whole_request():
    class Retrieval:  # e.g. text-embedding: a query is ranked against every candidate of the batch
        def select(self, request, index):
            return request

        def place(self, response, index, batch_size):
            return response

    request, index = {"q": torch.zeros(4, 3)}, torch.tensor([1, 2])
    assert select_rows(Retrieval(), request, index) is request
    answer = {"e": torch.ones(4, 2)}
    assert place_rows(Retrieval(), answer, index, 4) is answer
    assert select_rows(object(), request, index)["q"].shape == (2, 3)  # the default: rows on dim 0


def test_the_built_in_subnets_declare_how_rows_are_routed():
    from subnets.registry import get

    emb, tok = get("text-embedding"), get("text-next-token")
    ch = emb.challenge(0, 8)
    assert select_rows(emb, ch.request, torch.tensor([0, 3])) is ch.request  # in-batch retrieval
    ch = tok.challenge(0, 8)
    sub = select_rows(tok, ch.request, torch.tensor([0, 3]))
    assert torch.equal(sub["context"], ch.request["context"][[0, 3]])
    tok.validate_request(sub)
