"""text-next-token: renamed stdlib source, mixing top-k distributions, a real LM, and a memorising attacker."""
import asyncio

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurons.batching import Batcher, batchable
from subnets.check import memorisation_warnings
from subnets.spec import Challenge, OutOfBounds, WrongDtype, WrongShape
from subnets.text.corpus import token_stream
from subnets.text.lm import VOCAB_SIZE, decode
from subnets.text_next_token.spec import CTX, FLOOR

B = 32


def dense_reference(outputs, weights):
    """sum_k weights[:, k] * p_k with every p_k a full [batch, VOCAB_SIZE] row: what combine must equal."""
    total = 0
    for k, o in enumerate(outputs):
        p = torch.full((o["token_ids"].shape[0], VOCAB_SIZE), FLOOR / VOCAB_SIZE)
        p = p.scatter_add(1, o["token_ids"], (1 - FLOOR) * torch.softmax(o["logits"], -1))
        total = total + weights[:, k : k + 1] * p
    return total


def test_challenges_are_reproducible_from_the_seed(next_token):
    a, b, c = next_token.challenge(3, B), next_token.challenge(3, B), next_token.challenge(4, B)
    assert torch.equal(a.request["context"], b.request["context"]) and torch.equal(a.target, b.target)
    assert not torch.equal(a.request["context"], c.request["context"])
    assert a.request["context"].shape == (B, CTX) and a.request["context"].dtype == torch.int64
    next_token.validate_request(a.request)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), n_miners=st.integers(1, 4), k=st.integers(1, 8))
def test_sparse_mixture_equals_the_dense_definition(next_token, seed, n_miners, k):
    g = torch.Generator().manual_seed(seed)
    outs = [{"token_ids": torch.randint(0, 50, (3, k), generator=g),  # small range: many shared ids
             "logits": torch.randn(3, k, generator=g) * 5} for _ in range(n_miners)]
    weights = torch.softmax(torch.randn(3, n_miners, generator=g), 1)
    mixture = next_token.combine(outs, weights)
    dense = mixture.dense()
    assert torch.allclose(dense, dense_reference(outs, weights), atol=1e-6)
    assert torch.allclose(dense.sum(1), torch.ones(3), atol=1e-4)
    assert bool((dense >= FLOOR / VOCAB_SIZE * 0.999).all())
    target = torch.randint(0, 60, (3,), generator=g)
    assert torch.allclose(mixture.prob(target), dense.gather(1, target[:, None]).squeeze(1))
    stack = torch.softmax(torch.randn(5, 3, n_miners, generator=g), -1)  # batched weights: [m, batch, k]
    together = next_token.combine(outs, stack).prob(target)
    assert torch.allclose(together, torch.stack([next_token.combine(outs, w).prob(target) for w in stack]))


@pytest.fixture(scope="module")
def answered(next_token, next_token_miners):
    """Two challenges of 16 rows and every reference miner's answers: the LM's CPU, paid once."""
    challenges = [next_token.challenge(seed, 16) for seed in (0, 1)]
    return [(ch, {name: m.forward(ch.request) for name, m in next_token_miners.items()}) for ch in challenges]


def test_responses_validate_and_bad_ones_are_rejected(next_token, answered):
    ch, outs = answered[0]
    for out in outs.values():
        next_token.validate_response(out, ch.request)
    good = outs["ngram"]
    with pytest.raises(WrongDtype):  # token ids as floats
        next_token.validate_response({**good, "token_ids": good["token_ids"].float()}, ch.request)
    with pytest.raises(OutOfBounds):
        next_token.validate_response({**good, "token_ids": good["token_ids"] + VOCAB_SIZE}, ch.request)
    with pytest.raises(WrongShape):  # logits and ids disagree on k
        next_token.validate_response({**good, "logits": good["logits"][:, :3]}, ch.request)


def test_combine_one_hot_and_gradient(next_token, answered):
    ch, outs = answered[1]
    outs, b = list(outs.values()), ch.batch_size
    one_hot = torch.nn.functional.one_hot(torch.full((b,), 1), len(outs)).float()
    assert torch.allclose(next_token.combine(outs, one_hot).dense(),
                          next_token.combine([outs[1]], torch.ones(b, 1)).dense())
    weights = torch.softmax(torch.randn(b, len(outs)), 1).requires_grad_()
    mixture = next_token.combine(outs, weights)
    assert torch.allclose(mixture.dense().sum(1), torch.ones(b), atol=1e-4)
    next_token.loss(mixture, ch).mean().backward()
    assert weights.grad.abs().sum() > 0


def test_smollm2_beats_ngram_beats_uniform(next_token, answered):
    rows = {}
    for ch, outs in answered:  # what `neuron subnet eval` computes, on the shared answers
        for name, out in outs.items():
            mix = next_token.combine([out], torch.ones(ch.batch_size, 1))
            for key, v in {"loss": float(next_token.loss(mix, ch).mean()), **next_token.metric(mix, ch)}.items():
                rows.setdefault(name, {}).setdefault(key, 0.0)
                rows[name][key] += v / len(answered)
    assert rows["smollm2"]["loss"] < rows["ngram"]["loss"] - 2 < rows["uniform"]["loss"] - 4
    assert rows["smollm2"]["top5"] > 0.45 and rows["ngram"]["top5"] > 0.15 and rows["uniform"]["top5"] < 0.05


class PublicLookup:
    """The memorising attack: every 8-token stretch of the public eval split, and the token after
    it; a context ending in a known stretch gets that token, any other a random one."""

    N, MULT = 8, np.uint64(1000003)

    def __init__(self):
        stream = token_stream("eval").astype(np.int64)
        keys = self.keys(stream)[:-1]  # [n - N]: the stretch starting at i, followed by stream[i + N]
        order = np.argsort(keys, kind="stable")
        self.sorted_keys, self.next = keys[order], stream[self.N:][order]
        self.gen = torch.Generator().manual_seed(0)

    @classmethod
    def keys(cls, ids: np.ndarray) -> np.ndarray:
        n = len(ids) - cls.N + 1
        h = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for i in range(cls.N):
                h = h * cls.MULT + ids[i : i + n].astype(np.uint64)
        return h

    def forward(self, request):
        q = np.array([self.keys(row[-self.N:])[0] for row in request["context"].numpy()])
        i = np.searchsorted(self.sorted_keys, q).clip(0, len(self.sorted_keys) - 1)
        known = torch.from_numpy(self.sorted_keys[i] == q)
        guess = torch.randint(0, VOCAB_SIZE, (len(q),), generator=self.gen)
        ids = torch.where(known, torch.from_numpy(self.next[i]), guess)
        return {"token_ids": ids.view(-1, 1), "logits": torch.zeros(len(q), 1)}


def test_a_table_of_the_public_corpus_scores_worse_than_the_lm(next_token, answered):
    lookup, b = PublicLookup(), 16
    stream = token_stream("eval")
    ends = np.random.default_rng(0).integers(CTX, len(stream), b)  # verbatim public windows: the table knows them
    windows = torch.from_numpy(stream[ends[:, None] + np.arange(-CTX, 1)].astype(np.int64))
    verbatim = Challenge(0, {"context": windows[:, :CTX]}, windows[:, CTX])
    assert (lookup.forward(verbatim.request)["token_ids"][:, 0] == verbatim.target).float().mean() > 0.7
    loss = {"lookup": 0.0, "smollm2": 0.0}
    for ch, outs in answered:  # challenges rename the code per seed: exact stretches of public text are rare
        for name, out in (("lookup", lookup.forward(ch.request)), ("smollm2", outs["smollm2"])):
            loss[name] += float(next_token.loss(next_token.combine([out], torch.ones(b, 1)), ch).mean()) / 2
    assert loss["lookup"] > loss["smollm2"] + 2


def test_challenge_rows_never_repeat_across_seeds(next_token):
    ch = next_token.challenge(12, 8)
    assert len(ch.info["where"]) == 8 and all(":" in w for w in ch.info["where"])
    assert "    " in decode(ch.request["context"].view(-1).tolist())  # SmolLM2 ids keep indentation
    assert memorisation_warnings(next_token, rounds=8, batch_size=32) == []


def test_smollm2_requests_merged_into_one_forward_get_their_own_answers(next_token, next_token_miners):
    """Three validators' challenges (8, 3 and 5 contexts) run as one SmolLM2 forward by the miner's
    batcher: each gets the top-k its own forward gives (same ids, logits within float error)."""
    assert batchable(next_token)
    model = next_token_miners["smollm2"]
    requests = [next_token.challenge(seed, n).request for seed, n in ((11, 8), (12, 3), (13, 5))]

    async def merged():
        batcher = Batcher(model.forward, max_rows=64, max_wait_s=0.5)
        deadline = asyncio.get_running_loop().time() + 120
        try:
            return batcher, await asyncio.gather(*(batcher.submit(r, deadline) for r in requests))
        finally:
            await batcher.close()

    batcher, outs = asyncio.run(merged())
    assert batcher.forwards == 1 and batcher.requests == 3
    for r, out in zip(requests, outs):
        alone = model.forward(r)
        assert out["token_ids"].shape == alone["token_ids"].shape
        assert torch.equal(out["token_ids"][:, :5], alone["token_ids"][:, :5])  # the likeliest five, in order
        assert torch.allclose(out["logits"], alone["logits"], atol=1e-3)
