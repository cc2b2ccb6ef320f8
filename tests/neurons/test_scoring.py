"""Per-row Shapley and leave-one-out scoring, the score EMA with its lower confidence bound, and
the incentive figures: duplicates keep a fair share, copiers take no more, noise earns nothing."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from neurons.config.schema import GateSection, NeuronConfig, ScoringSection
from neurons.validator.ema import ScoreStats, ema_update, lower_bound, resize_scores, weights_from_scores
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
        total += score_fn(outs, uniform, ch).mean(-1)  # [k, batch] -> [k]
    return total / steps


def test_leave_one_out_ranks_miners_by_quality():
    spec = FakeSpec(batch=256)
    s = mean_raw(spec, NOISE, 10, lambda o, w, ch: leave_one_out(spec, o, w, ch))
    assert s[0] > s[1] > s[2] > 0 > s[3]  # removing the noisiest miner improves the mixture


def test_shapley_ranks_miners_by_quality_and_sampling_approaches_it():
    spec, noise, g = FakeSpec(batch=256), [0.1, 0.5, 1.0, 2.0], torch.Generator().manual_seed(0)
    exact = mean_raw(spec, noise, 40, lambda o, w, ch: shapley(spec, o, w, ch, 24))  # 4! orders: exact
    sampled = mean_raw(spec, noise, 40, lambda o, w, ch: shapley(spec, o, w, ch, 6, g))
    assert exact[0] > exact[1] > exact[2] > 0 > exact[3]
    assert torch.allclose(sampled, exact, atol=0.15), (sampled, exact)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 5), perms=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_shapley_values_sum_to_each_rows_loss_drop(k, perms, seed):
    """Efficiency per row, with each row answered by its own subset of miners."""
    spec, g = FakeSpec(batch=16), torch.Generator().manual_seed(seed)
    ch, outs = answers(spec, seed, noise=[0.2 * (i + 1) for i in range(k)])
    served = torch.rand(spec.batch, k, generator=g) < 0.6
    served[:, 0] |= ~served.any(1)                                   # every row answered by someone
    w = torch.softmax(torch.randn(spec.batch, k, generator=g), -1) * served
    w = w / w.sum(1, keepdim=True)
    phi = shapley(spec, outs, w, ch, perms, g, served)               # [k, batch]
    assert torch.all(phi[~served.T] == 0)                            # no credit on rows not answered
    full = spec.loss(spec.combine(outs, w), ch)
    assert torch.allclose(phi.sum(0), spec.null_loss(ch) - full, rtol=1e-4, atol=1e-5)


def test_shapley_splits_identical_answers_evenly():
    spec = FakeSpec(batch=32)
    ch, (a, b) = answers(spec, 1, noise=[0.2, 0.8])
    outs = [a, a, b]                                                 # miner 1 returns miner 0's answer
    exact = shapley(spec, outs, torch.full((32, 3), 1 / 3), ch, 6)   # all 3! orders
    assert torch.allclose(exact[0], exact[1], atol=1e-6) and float(exact[0].mean()) > float(exact[2].mean())
    sampled = shapley(spec, outs, torch.full((32, 3), 1 / 3), ch, 4, torch.Generator().manual_seed(2))
    assert abs(float(sampled[0].mean() - sampled[1].mean())) < 0.5 * float(exact[0].mean())


@pytest.mark.parametrize("method", ["loo", "shapley"])
def test_identical_answers_to_a_row_split_its_credit_exactly(method):
    spec = FakeSpec(batch=16)
    ch, (a, b) = answers(spec, 4, noise=[0.2, 0.9])
    copy = {"y": a["y"].clone()}
    copy["y"][:4] += 0.5                                              # the copy differs on rows 0-3 only
    w = torch.softmax(torch.randn(16, 3, generator=torch.Generator().manual_seed(0)), -1)
    config = ScoringSection(method=method, permutations=2)
    means, _, _ = score(spec, ch, [a, copy, b], torch.ones(3, dtype=torch.bool), w, config,
                        torch.Generator().manual_seed(1), torch.ones(16, 3, dtype=torch.bool))
    rows_only = torch.zeros(16, 3, dtype=torch.bool)
    rows_only[4:] = True                                              # scored on the identical rows alone
    same, _, _ = score(spec, ch, [a, copy, b], torch.ones(3, dtype=torch.bool), w * rows_only, config,
                       torch.Generator().manual_seed(1), rows_only)
    assert math.isclose(float(same[0]), float(same[1]), rel_tol=1e-5) and float(same[0]) > 0
    assert not math.isclose(float(means[0]), float(means[1]), rel_tol=1e-3)  # rows 0-3 differ: credited apart


@pytest.mark.parametrize("method", ["loo", "shapley"])
def test_batched_and_looped_coalitions_agree(method):
    batched, looped = FakeSpec(batch=32), FakeSpec(batch=32)
    looped.batched_weights = False
    ch, outs = answers(batched, 3)
    w = torch.softmax(torch.randn(32, 4), -1)
    served = torch.rand(32, 4, generator=torch.Generator().manual_seed(0)) < 0.7
    if method == "loo":
        a, b = leave_one_out(batched, outs, w, ch, served), leave_one_out(looped, outs, w, ch, served)
    else:
        a = shapley(batched, outs, w, ch, 5, torch.Generator().manual_seed(1), served)
        b = shapley(looped, outs, w, ch, 5, torch.Generator().manual_seed(1), served)
    assert torch.allclose(a, b, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("method", ["loo", "shapley"])
def test_failed_and_invalid_miners_score_zero(method):
    spec = FakeSpec()
    miners = [FakeMiner(s, seed=i) for i, s in enumerate(NOISE)]
    moe = MoE(4, ["a", "b", "c", "d"], NeuronConfig(gate=GateSection(top_k=4, explore=0),
                                                   scoring=ScoringSection(method=method, ema_alpha=1.0)))
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
        moe = MoE(4, ["a", "b"], NeuronConfig(gate=GateSection(top_k=2, explore=0)))
        moe.scores[0] = 0.5
        (r,) = run_steps(moe, spec, miners, 1, failing={1})
        col = (r.uids == 0).nonzero().item()
        assert bool(r.measured[col]) is expect_measured
        assert bool(moe.scores[0] != 0.5) is expect_measured  # unmeasured: EMA kept as it was
        assert moe.scores[1] == 0


def test_score_of_nobody_answering_is_all_zero():
    spec = FakeSpec()
    ok = torch.zeros(3, dtype=torch.bool)
    s, se2, measured = score(spec, spec.challenge(0), [None] * 3, ok, torch.zeros(spec.batch, 3), ScoringSection())
    assert torch.all(s == 0) and torch.all(se2 == 0) and measured.all()


# -- the incentive figures (issue 13), on the synthetic task; bench/incentives.py runs them in full --------

class Model:
    """A deterministic model: the same input gives the same answer, so two miners running it agree."""

    def __init__(self, noise: float, model: int):
        self.noise, self.model = noise, model

    def answer(self, ch):
        g = torch.Generator().manual_seed(self.model * 1_000_003 + int(ch.x.abs().sum() * 1e4))
        return {"y": ch.y + self.noise * torch.randn(ch.y.shape, generator=g)}


class Copier:
    """Relays the validator's query to its victim and returns the victim's answer."""

    def __init__(self, victim):
        self.victim = victim

    def answer(self, ch):
        return self.victim.answer(ch)


class Refused:
    """A relaying copier without a validator permit: the victim refuses it, so it has nothing to send."""

    def answer(self, ch):
        return None


class PureNoise:
    """Answers that carry no information about the target."""

    def __init__(self, seed: int):
        self.g = torch.Generator().manual_seed(seed)

    def answer(self, ch):
        return {"y": torch.randn(ch.y.shape, generator=self.g)}


def final_weights(miners, steps, method="shapley", **gate):
    moe = MoE(4, [f"hk{i}" for i in range(len(miners))],
              NeuronConfig(gate=GateSection(**{"top_k": 2, "explore": 1, **gate}), scoring=ScoringSection(method=method)))
    run_steps(moe, FakeSpec(), miners, steps)
    return moe.weights()


def test_two_miners_running_the_same_model_each_keep_40_percent_and_a_copier_takes_no_more():
    a, b, c = Model(0.3, 1), Model(0.6, 2), Model(0.9, 3)
    lone = final_weights([a, b, c], 200)[0]
    twins = final_weights([a, Model(0.3, 1), b, c], 200)
    assert twins[0] >= 0.4 * lone and twins[1] >= 0.4 * lone, (float(lone), twins)
    copied = final_weights([a, Copier(a), b, c], 200)
    assert copied[1] <= 0.5 * (copied[0] + copied[1]) + 0.02, copied  # at most a fair (equal) share
    refused = final_weights([a, Refused(), b, c], 200)
    assert refused[0] >= 0.8 * lone and refused[1] == 0, (float(lone), refused)


def test_leave_one_out_would_let_a_twin_grief_a_good_miner():
    """Why Shapley is the default: under leave-one-out, removing either twin barely changes the
    mixture, so both lose most of their weight to a worse miner."""
    for method, keeps in [("loo", False), ("shapley", True)]:
        lone = final_weights([Model(0.3, 1), Model(0.9, 3)], 80, method, top_k=3, explore=0)
        twins = final_weights([Model(0.3, 1), Model(0.3, 1), Model(0.9, 3)], 80, method, top_k=3, explore=0)
        assert bool(min(twins[0], twins[1]) >= 0.4 * lone[0]) is keeps, (method, lone, twins)


def test_miners_answering_pure_noise_earn_almost_nothing():
    honest = [FakeMiner(0.8 + 0.02 * i, seed=i) for i in range(16)]  # similar and noisy: each adds little
    noise = [PureNoise(100 + i) for i in range(14)]
    w = final_weights(honest + noise, 250, top_k=4)
    assert float(w[16:].max()) <= 0.005 and float(w[16:].sum()) <= 0.02, w[16:]
    assert float(w[:16].sum()) > 0.98


# -- the EMA, its bound and the weights --------------------------------------------------------------

finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=100, deadline=None)
@given(ema=st.lists(st.floats(-10, 10, width=32), min_size=1, max_size=16), data=st.data(),
       alpha=st.floats(0.01, 1.0))
def test_ema_update_properties(ema, data, alpha):
    n = len(ema)
    stats = ScoreStats(torch.tensor(ema), torch.tensor(ema) ** 2, torch.zeros(n))
    uids = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    scores = torch.tensor(data.draw(st.lists(finite_or_not, min_size=len(uids), max_size=len(uids))))
    se2 = torch.tensor(data.draw(st.lists(finite_or_not, min_size=len(uids), max_size=len(uids))))
    new = ema_update(stats, torch.tensor(uids, dtype=torch.long), scores, se2, alpha)
    for t in (new.mean, new.sq, new.within):
        assert torch.isfinite(t).all()
    assert (new.within >= 0).all() and (new.sq >= 0).all()
    untouched = [u for u in range(n) if u not in uids]
    assert torch.equal(new.mean[untouched], stats.mean[untouched])
    for i, u in enumerate(uids):  # moves toward the cleaned step score, never past it
        target = float(scores[i]) if math.isfinite(scores[i]) else 0.0
        lo, hi = sorted([float(stats.mean[u]), target])
        assert lo - 1e-4 <= float(new.mean[u]) <= hi + 1e-4
    bound = lower_bound(new, alpha, 2.0)
    assert (bound <= new.mean + 1e-6).all()  # a bound never exceeds the mean


def test_a_steady_score_converges_to_its_mean_and_an_erratic_one_is_discounted():
    steady, erratic = ScoreStats.zeros(1), ScoreStats.zeros(1)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        steady = ema_update(steady, torch.tensor([0]), torch.tensor([1.0]), torch.tensor([0.0]), 0.1)
        erratic = ema_update(erratic, torch.tensor([0]), torch.randn(1, generator=g), torch.tensor([0.0]), 0.1)
    assert math.isclose(float(lower_bound(steady, 0.1, 2.0)), 1.0, rel_tol=1e-3)
    assert float(lower_bound(erratic, 0.1, 2.0)) < 0  # mean ~0, spread ~1: no weight


@settings(max_examples=100, deadline=None)
@given(ema=st.lists(finite_or_not, min_size=1, max_size=32))
def test_weights_are_finite_non_negative_and_sum_to_one_or_zero(ema):
    w = weights_from_scores(torch.tensor(ema))
    assert torch.isfinite(w).all() and (w >= 0).all()
    assert math.isclose(float(w.sum()), 1.0, rel_tol=1e-9) or float(w.sum()) == 0.0
    positive = [i for i, x in enumerate(ema) if math.isfinite(x) and x > 0]
    assert (float(w.sum()) == 0.0) == (not positive or sum(ema[i] for i in positive) == 0)


def test_ema_rejects_a_bad_alpha_and_resize_resets_reregistered_uids():
    one = torch.tensor([1.0])
    with pytest.raises(ValueError, match="alpha"):
        ema_update(ScoreStats.zeros(2), torch.tensor([0]), one, one, 0.0)
    t = torch.tensor([1.0, 2.0, 3.0])
    out = resize_scores(ScoreStats(t, t, t), 5, reset=[1])
    assert out.mean.tolist() == out.within.tolist() == [1.0, 0.0, 3.0, 0.0, 0.0]
    assert resize_scores(ScoreStats(t, t, t), 2, reset=[2]).sq.tolist() == [1.0, 2.0]
