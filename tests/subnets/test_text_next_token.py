"""text-next-token: stdlib token streams, mixing top-k distributions, and miner ordering."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnets.check import check_subnet
from subnets.evaluate import evaluate
from subnets.spec import OutOfBounds, WrongDtype, WrongShape
from subnets.text.tokenizer import VOCAB_SIZE
from subnets.text_next_token.spec import CTX, FLOOR, TokenMixture

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


def test_responses_validate_and_bad_ones_are_rejected(next_token, next_token_miners):
    ch = next_token.challenge(5, 4)
    for name, miner in next_token_miners.items():
        next_token.validate_response(miner.forward(ch.request), ch.request)
    good = next_token_miners["ngram"].forward(ch.request)
    with pytest.raises(WrongDtype):  # token ids as floats
        next_token.validate_response({**good, "token_ids": good["token_ids"].float()}, ch.request)
    with pytest.raises(OutOfBounds):
        next_token.validate_response({**good, "token_ids": good["token_ids"] + VOCAB_SIZE}, ch.request)
    with pytest.raises(WrongShape):  # logits and ids disagree on k
        next_token.validate_response({**good, "logits": good["logits"][:, :3]}, ch.request)


def test_combine_one_hot_and_gradient(next_token, next_token_miners):
    ch = next_token.challenge(6, B)
    outs = [m.forward(ch.request) for m in next_token_miners.values()]
    one_hot = torch.nn.functional.one_hot(torch.full((B,), 1), len(outs)).float()
    assert torch.allclose(next_token.combine(outs, one_hot).dense(),
                          next_token.combine([outs[1]], torch.ones(B, 1)).dense())
    weights = torch.softmax(torch.randn(B, len(outs)), 1).requires_grad_()
    mixture = next_token.combine(outs, weights)
    assert torch.allclose(mixture.dense().sum(1), torch.ones(B), atol=1e-4)
    next_token.loss(mixture, ch).mean().backward()
    assert weights.grad.abs().sum() > 0


def test_ngram_and_transformer_beat_uniform(next_token):
    rows = {r["miner"]: r for r in evaluate(next_token, seeds=[0, 1], batch_size=64)}
    assert rows["ngram"]["loss"] < rows["uniform"]["loss"] - 3
    assert rows["transformer"]["loss"] < rows["uniform"]["loss"] - 3
    assert rows["ngram"]["top5"] > 0.2 and rows["uniform"]["top5"] < 0.05


def test_subnet_checks_pass_and_null_loss_is_uniform(next_token):
    assert any("batched weights and null loss consistent" in line for line in check_subnet(next_token))
    ch = next_token.challenge(9, 4)
    uniform = TokenMixture(torch.zeros(4, 1, dtype=torch.int64), torch.zeros(4, 1), torch.full((4,), 1 / VOCAB_SIZE))
    assert torch.allclose(next_token.null_loss(ch), next_token.loss(uniform, ch))
