"""Gate, routing and online training on the synthetic FakeSpec task."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from neurons.config.schema import GateSection, NeuronConfig
from neurons.validator.contract import MixtureSpec, valid_output
from neurons.validator.moe import MoE, NoAnswersError
from neurons.validator.routing import masked_softmax, select
from validator_fakes import FakeMiner, FakeSpec, one_torch_thread, run_steps  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_moe(n, **gate):
    return MoE(4, [f"hk{i}" for i in range(n)], NeuronConfig(gate=GateSection(**gate)), seed=0)


def test_gate_learns_to_prefer_the_best_miner():
    spec = FakeSpec()
    miners = [FakeMiner(1.0, seed=1), FakeMiner(2.0, seed=2), FakeMiner(0.1, seed=3), FakeMiner(0.5, seed=4)]
    moe = make_moe(4, top_k=3, explore=1)
    results = run_steps(moe, spec, miners, 120)
    first = results[0]  # starts uniform over each row's routed miners
    assert torch.allclose(first.weights, first.rows.float() / first.rows.sum(1, keepdim=True))
    late = results[-20:]
    best_w = [float(r.weights[:, (r.uids == 2).nonzero().item()].mean()) for r in late]
    assert min(best_w) > 0.8, best_w  # inverse-variance optimum is ~0.95
    for r in late:  # every row's own top-k holds the best miner (not exploration)
        col = (r.uids == 2).nonzero().item()
        assert r.rows[:, col].all() and not r.explored[col]
    assert int(moe.weights().argmax()) == 2
    assert results[-1].loss < 0.5 * results[0].loss


def test_gate_learns_a_conditional_routing():
    spec = FakeSpec()
    miners = [FakeMiner(0.1, 1.5, seed=1), FakeMiner(1.5, 0.1, seed=2), FakeMiner(0.7, seed=3)]
    moe = make_moe(3, top_k=3, explore=0)
    run_steps(moe, spec, miners, 150)
    ch = spec.challenge(10_000)
    with torch.no_grad():
        w = torch.softmax(moe.trainer.gate(ch.x), dim=-1)  # [batch, 3]
    pos = ch.x[:, 0] > 0
    assert float(w[pos, 0].mean()) > 0.7
    assert float(w[~pos, 1].mean()) > 0.7


def test_exploration_keeps_querying_a_new_miner_and_a_better_one_takes_over():
    spec = FakeSpec()
    miners = [FakeMiner(s, seed=i) for i, s in enumerate([0.3, 0.6, 1.0, 1.5])]
    moe = make_moe(4, top_k=2, explore=1)
    run_steps(moe, spec, miners, 40)
    moe.sync([f"hk{i}" for i in range(5)])
    with torch.no_grad():
        moe.trainer.gate.head.bias[4] = -5.0  # a new miner whose logit starts far below the others
    miners.append(FakeMiner(0.05, seed=9))
    results = run_steps(moe, spec, miners, 150, seed0=1000)
    picked = [4 in r.uids.tolist() for r in results]
    assert sum(picked[:60]) / 60 >= 0.2  # exploration: 1 of the uids no row picked, per step
    final = results[-10:]
    for r in final:  # now in every row's own top-k
        col = (r.uids == 4).nonzero().item()
        assert r.rows[:, col].all() and not r.explored[col]
    assert min(float(r.weights[:, (r.uids == 4).nonzero().item()].mean()) for r in final) > 0.5


def test_sync_resizes_keeps_learned_rows_and_resets_reregistered_uids():
    spec = FakeSpec()
    miners = [FakeMiner(s, seed=i) for i, s in enumerate([0.1, 1.0, 2.0])]
    moe = make_moe(3, top_k=2, explore=1)
    run_steps(moe, spec, miners, 20)
    head_w, head_b = moe.trainer.gate.head.weight.detach().clone(), moe.trainer.gate.head.bias.detach().clone()
    scores = moe.scores.clone()
    reset = moe.sync(["hk0", "NEW", "hk2", "hk3", "hk4"])
    assert reset == [1]
    gate = moe.trainer.gate
    assert gate.n_uids == 5 and moe.scores.shape == (5,)
    for u in (0, 2):
        assert torch.equal(gate.head.weight[u], head_w[u]) and gate.head.bias[u] == head_b[u]
        assert moe.scores[u] == scores[u]
    for u in (1, 3, 4):  # re-registered and new uids start neutral, with no score
        assert torch.all(gate.head.weight[u] == 0) and moe.scores[u] == 0
    state = moe.trainer.optimizer.state[gate.head.weight]
    assert state["exp_avg"].shape == (5, gate.hidden) and torch.all(state["exp_avg"][1] == 0)
    miners = [miners[0], FakeMiner(1.0, seed=7), miners[2], FakeMiner(0.5, seed=8), FakeMiner(0.5, seed=9)]
    assert run_steps(moe, spec, miners, 3)[-1].updated  # trains after the resize
    moe.sync(["hk0", "NEW"])
    assert moe.trainer.gate.n_uids == 2 and moe.scores.shape == (2,)
    assert torch.equal(moe.trainer.gate.head.weight[0], gate.head.weight[0])
    run_steps(moe, spec, miners[:2], 2)


def test_failed_miners_are_masked_out_and_renormalised():
    spec = FakeSpec()
    miners = [FakeMiner(s, seed=i) for i, s in enumerate([0.1, 0.5, 1.0, 2.0])]
    moe = make_moe(4, top_k=4, explore=0)
    (r,) = run_steps(moe, spec, miners, 1, failing={1})
    col = (r.uids == 1).nonzero().item()
    assert not r.ok[col] and torch.all(r.weights[:, col] == 0)
    assert torch.allclose(r.weights.sum(1), torch.ones(spec.batch))
    assert r.scores[col] == 0 and r.measured[col]


def test_nobody_answering_or_nobody_serving_leaves_the_gate_alone():
    spec = FakeSpec()
    miners = [FakeMiner(0.1, seed=0), FakeMiner(1.0, seed=1)]
    moe = make_moe(2, top_k=2, explore=0)
    before = [p.detach().clone() for p in moe.trainer.gate.parameters()]
    (r,) = run_steps(moe, spec, miners, 1, failing={0, 1})
    assert not r.updated and torch.all(r.scores == 0) and torch.all(r.weights == 0)
    (r,) = run_steps(moe, spec, miners, 1, serving=torch.zeros(2, dtype=torch.bool))
    assert len(r.uids) == 0 and not r.updated
    assert all(torch.equal(a, b) for a, b in zip(before, moe.trainer.gate.parameters()))


def test_gate_rejects_features_of_the_wrong_shape():
    moe = make_moe(3)
    with pytest.raises(ValueError, match="features"):
        moe.select(torch.zeros(8, 5), torch.ones(3, dtype=torch.bool))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 6), m=st.integers(0, 4), seed=st.integers(0, 2**16),
       serving_bits=st.integers(0, 2**12 - 1), batch=st.integers(1, 6))
def test_select_properties(n, k, m, seed, serving_bits, batch):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, n, generator=g)
    serving = torch.tensor([bool(serving_bits >> i & 1) for i in range(n)])
    route = select(logits, serving, k, m, noise_std=0.0, generator=g)
    uids = route.uids.tolist()
    n_serving = int(serving.sum())
    assert len(uids) == len(set(uids)) and route.rows.shape == (batch, len(uids))
    assert all(serving[u] for u in uids) and route.rows.any(0).all()  # every queried uid gets rows
    gate_cols = ~route.explored
    assert (route.rows[:, gate_cols].sum(1) == min(k, n_serving)).all()  # each row: its own top-k
    for b in range(batch):  # without noise, a row's picks are its best serving uids by logit
        row = logits[b].masked_fill(~serving, float("-inf"))
        mine = route.uids[gate_cols][route.rows[b, gate_cols]]
        others = [u for u in range(n) if serving[u] and u not in mine.tolist()]
        assert not others or float(row[mine].min()) >= float(row[others].max())
    unpicked = n_serving - int(gate_cols.sum())
    assert int(route.explored.sum()) == min(m, unpicked)
    assert route.rows[:, route.explored].all()  # explored uids see every row


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 4), k=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_masked_softmax_rows_sum_to_one_or_zero(rows, k, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, k, generator=g) * 30
    mask = torch.rand(rows, k, generator=g) > 0.4
    p = masked_softmax(logits, mask)
    assert torch.all(p[~mask] == 0) and torch.all(p >= 0)
    expect = mask.any(-1).float()
    assert torch.allclose(p.sum(-1), expect, atol=1e-6)


def test_serving_an_application_uses_the_plain_top_k_and_the_learned_mixture():
    spec = FakeSpec()
    miners = [FakeMiner(s, seed=i) for i, s in enumerate([1.0, 0.1, 0.5, 2.0])]
    moe = make_moe(4, top_k=2, explore=2, noise_std=1.0)
    run_steps(moe, spec, miners, 60)
    ch = spec.challenge(777)
    serving = torch.ones(4, dtype=torch.bool)
    routes = [moe.select(ch.x, serving, explore=False) for _ in range(5)]
    assert all(torch.equal(r.uids, routes[0].uids) and torch.equal(r.rows, routes[0].rows)
               and not r.explored.any() for r in routes)  # no noise
    assert sorted(routes[0].uids.tolist()) == [1, 2] and routes[0].rows.all()  # every row: the two best
    outs = [miners[u].answer(ch) for u in routes[0].uids.tolist()]
    mixture, w = moe.mix(spec, ch.x, routes[0], outs)
    assert float(spec.loss(mixture, ch).mean()) < 0.02  # close to the best miner's 0.01
    assert torch.allclose(w.sum(1), torch.ones(spec.batch))
    _, w = moe.mix(spec, ch.x, routes[0], [outs[0], None])  # one failed: all weight on the other
    assert torch.all(w[:, 0] == 1) and torch.all(w[:, 1] == 0)
    with pytest.raises(NoAnswersError):
        moe.mix(spec, ch.x, routes[0], [None, {"y": torch.full_like(ch.y, float("inf"))}])


def test_the_spec_contract_and_output_validity():
    assert isinstance(FakeSpec(), MixtureSpec) and not isinstance(object(), MixtureSpec)
    good = {"y": torch.zeros(2, 3), "ids": torch.tensor([1, 2])}
    assert valid_output(good)
    for bad in (None, {}, [torch.zeros(1)], {"y": [1.0]}, {"y": torch.tensor([float("nan")])},
                {"y": torch.tensor([1.0]), "z": torch.tensor([float("-inf")])}):
        assert not valid_output(bad), bad


def test_plain_top_k_does_not_consume_the_exploration_rng():
    import torch
    from neurons.validator.routing import select

    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    logits, serving = torch.randn(4, 10), torch.ones(10, dtype=torch.bool)
    select(logits, serving, top_k=3, explore=0, generator=g1)   # an API query: top-k only
    a = select(logits, serving, top_k=3, explore=2, noise_std=0.1, generator=g1)
    b = select(logits, serving, top_k=3, explore=2, noise_std=0.1, generator=g2)
    assert torch.equal(a.uids, b.uids)
