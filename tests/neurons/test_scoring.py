"""Leave-one-out and sampled-Shapley scoring, the score EMA and the chain weights."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from neurons.validator.config import GateConfig, MoEConfig, ScoringConfig
from neurons.validator.ema import ema_update, resize_scores, weights_from_scores
from neurons.validator.moe import MoE
from neurons.validator.scoring import leave_one_out, score, shapley
from validator_fakes import FakeLoopSpec, FakeMiner, FakeSpec, one_torch_thread, run_steps  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NOISE = [0.1, 0.3, 0.6, 1.0]  # miner quality: best first


def answers(spec, seed, noise=NOISE):
    ch = spec.challenge(seed)
    return ch, [FakeMiner(s, seed=seed * 10 + i).answer(ch) for i, s in enumerate(noise)]


def mean_raw(spec, noise, steps, score_fn):
    total = torch.zeros(len(noise))
    for s in range(steps):
        ch, outs = answers(spec, s, noise)
        uniform = torch.full((spec.batch, len(outs)), 1 / len(outs))
        total += score_fn(outs, uniform, ch)
    return total / steps


def test_leave_one_out_ranks_miners_by_quality():
    spec = FakeSpec(batch=256)
    s = mean_raw(spec, NOISE, 10, lambda o, w, ch: leave_one_out(spec, o, w, ch)).clamp_min(0)
    assert s[0] > s[1] > s[2] > 0 and s[3] == 0  # removing the noisiest miner improves the mixture


def test_shapley_ranks_miners_by_quality_and_sampling_approaches_it():
    spec, noise, g = FakeSpec(batch=256), [0.1, 0.5, 1.0, 2.0], torch.Generator().manual_seed(0)
    exact = mean_raw(spec, noise, 40, lambda o, w, ch: shapley(spec, o, w, ch, 24))  # 4! orders: exact
    sampled = mean_raw(spec, noise, 40, lambda o, w, ch: shapley(spec, o, w, ch, 6, g))
    assert exact[0] > exact[1] > exact[2] > 0 > exact[3]
    assert torch.allclose(sampled, exact, atol=0.15), (sampled, exact)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 5), perms=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_shapley_values_sum_to_the_total_loss_drop(k, perms, seed):
    spec = FakeSpec(batch=16)
    ch, outs = answers(spec, seed, noise=[0.2 * (i + 1) for i in range(k)])
    w = torch.softmax(torch.randn(spec.batch, k, generator=torch.Generator().manual_seed(seed)), -1)
    phi = shapley(spec, outs, w, ch, perms, torch.Generator().manual_seed(seed))
    full = spec.loss(spec.combine(outs, w), ch).mean()
    assert math.isclose(float(phi.sum()), float(spec.null_loss(ch).mean() - full), rel_tol=1e-4, abs_tol=1e-5)


@pytest.mark.parametrize("method", ["loo", "shapley"])
def test_batched_and_looped_coalitions_agree(method):
    batched, looped = FakeSpec(batch=32), FakeSpec(batch=32)
    looped.batched_weights = False
    ch, outs = answers(batched, 3)
    w = torch.softmax(torch.randn(32, 4), -1)
    if method == "loo":
        a, b = leave_one_out(batched, outs, w, ch), leave_one_out(looped, outs, w, ch)
    else:
        a = shapley(batched, outs, w, ch, 5, torch.Generator().manual_seed(1))
        b = shapley(looped, outs, w, ch, 5, torch.Generator().manual_seed(1))
    assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("method", ["loo", "shapley"])
def test_failed_and_invalid_miners_score_zero(method):
    spec = FakeSpec()
    miners = [FakeMiner(s, seed=i) for i, s in enumerate(NOISE)]
    moe = MoE(4, ["a", "b", "c", "d"], MoEConfig(gate=GateConfig(top_k=4, explore=0),
                                                   scoring=ScoringConfig(method=method, ema_alpha=1.0)))
    ch = spec.challenge(0)
    route = moe.select(ch.x, torch.ones(4, dtype=torch.bool))
    outs = [miners[u].answer(ch) for u in route.uids.tolist()]
    pos = {u: i for i, u in enumerate(route.uids.tolist())}
    outs[pos[0]] = None                                       # the best miner failed (timeout, ...)
    outs[pos[1]] = {"y": torch.full_like(ch.y, math.nan)}     # an invalid (non-finite) answer
    r = moe.learn(spec, ch, ch.x, route, outs)
    assert r.scores[pos[0]] == 0 and r.scores[pos[1]] == 0 and r.measured.all()
    assert moe.scores[0] == 0 and moe.scores[1] == 0 and moe.scores[2] > 0
    assert torch.isfinite(torch.cat([p.flatten() for p in moe.trainer.gate.parameters()])).all()


def test_a_lone_responder_is_scored_only_against_a_null_loss():
    miners = [FakeMiner(0.1, seed=0), FakeMiner(0.1, seed=1)]
    for spec, expect_measured in [(FakeSpec(), True), (FakeLoopSpec(), False)]:
        moe = MoE(4, ["a", "b"], MoEConfig(gate=GateConfig(top_k=2, explore=0)))
        moe.scores[0] = 0.5
        (r,) = run_steps(moe, spec, miners, 1, failing={1})
        col = (r.uids == 0).nonzero().item()
        assert bool(r.measured[col]) is expect_measured
        assert bool(moe.scores[0] != 0.5) is expect_measured  # unmeasured: EMA kept as it was
        assert moe.scores[1] == 0


def test_score_of_nobody_answering_is_all_zero():
    spec = FakeSpec()
    ok = torch.zeros(3, dtype=torch.bool)
    s, measured = score(spec, spec.challenge(0), [None] * 3, ok, torch.zeros(spec.batch, 3), ScoringConfig())
    assert torch.all(s == 0) and measured.all()


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=100, deadline=None)
@given(ema=st.lists(st.floats(0, 10, width=32), min_size=1, max_size=16), data=st.data(),
       alpha=st.floats(0.01, 1.0))
def test_ema_update_properties(ema, data, alpha):
    ema = torch.tensor(ema)
    uids = data.draw(st.lists(st.integers(0, len(ema) - 1), unique=True, max_size=len(ema)))
    scores = torch.tensor(data.draw(st.lists(finite_or_not, min_size=len(uids), max_size=len(uids))))
    new = ema_update(ema, torch.tensor(uids, dtype=torch.long), scores, alpha)
    assert torch.isfinite(new).all() and (new >= 0).all()
    untouched = [u for u in range(len(ema)) if u not in uids]
    assert torch.equal(new[untouched], ema[untouched])
    for i, u in enumerate(uids):  # moves toward the cleaned step score, never past it
        target = float(scores[i]) if math.isfinite(scores[i]) and scores[i] > 0 else 0.0
        lo, hi = sorted([float(ema[u]), target])
        assert lo - 1e-5 <= float(new[u]) <= hi + 1e-5


@settings(max_examples=100, deadline=None)
@given(ema=st.lists(finite_or_not, min_size=1, max_size=32))
def test_weights_are_finite_non_negative_and_sum_to_one_or_zero(ema):
    w = weights_from_scores(torch.tensor(ema))
    assert torch.isfinite(w).all() and (w >= 0).all()
    assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-9) or float(w.sum()) == 0.0
    positive = [i for i, x in enumerate(ema) if math.isfinite(x) and x > 0]
    assert (float(w.sum()) == 0.0) == (not positive or sum(ema[i] for i in positive) == 0)


def test_ema_rejects_a_bad_alpha_and_resize_resets_reregistered_uids():
    with pytest.raises(ValueError, match="alpha"):
        ema_update(torch.zeros(2), torch.tensor([0]), torch.tensor([1.0]), 0.0)
    out = resize_scores(torch.tensor([1.0, 2.0, 3.0]), 5, reset=[1])
    assert out.tolist() == [1.0, 0.0, 3.0, 0.0, 0.0]
    assert resize_scores(torch.tensor([1.0, 2.0, 3.0]), 2, reset=[2]).tolist() == [1.0, 2.0]
