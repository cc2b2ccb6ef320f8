"""text-embedding: real stdlib pairs, real MiniLM weights, and the ordering of the reference miners."""
import pytest
import torch

from subnets.check import check_subnet
from subnets.evaluate import evaluate
from subnets.spec import OutOfBounds, WrongDtype, WrongShape
from subnets.text_embedding.spec import DIM

B = 16


def test_challenges_are_reproducible_from_the_seed(embedding):
    a, b, c = embedding.challenge(7, B), embedding.challenge(7, B), embedding.challenge(8, B)
    for key in a.request:
        assert torch.equal(a.request[key], b.request[key])
        assert a.request[key].dtype == torch.int64
    assert not torch.equal(a.request["query_ids"], c.request["query_ids"])
    assert a.info["where"] == b.info["where"] and len(set(a.info["where"])) == B
    assert embedding.validate_request(a.request)["batch"] == B


@pytest.fixture(scope="module")
def answered(embedding, embedding_miners):
    """One challenge and every reference miner's response to it."""
    ch = embedding.challenge(1, B)
    return ch, {name: miner.forward(ch.request) for name, miner in embedding_miners.items()}


def test_every_reference_miner_answers_the_synapse(embedding, answered):
    ch, outs = answered
    for name, out in outs.items():
        embedding.validate_response(out, ch.request)
        assert out["query_emb"].shape == (B, DIM), name


def test_bad_requests_and_responses_are_rejected(embedding, embedding_miners):
    ch = embedding.challenge(2, 4)
    with pytest.raises(WrongDtype):  # ids must be integers, never floats
        embedding.validate_request({**ch.request, "query_ids": ch.request["query_ids"].float()})
    with pytest.raises(OutOfBounds):
        embedding.validate_request({**ch.request, "code_ids": ch.request["code_ids"] + 40000})
    with pytest.raises(WrongShape):  # longer than the subnet allows
        embedding.validate_request({**ch.request, "code_ids": torch.zeros(4, 500, dtype=torch.int64)})
    out = embedding_miners["bow"].forward(ch.request)
    with pytest.raises(WrongShape):  # a miner with its native 768 dims that forgot to project
        embedding.validate_response({**out, "code_emb": torch.zeros(4, 768)}, ch.request)


def test_combine_is_a_differentiable_mixture_of_similarity_matrices(embedding, answered):
    ch, outs = answered[0], list(answered[1].values())
    singles = [embedding.combine([o], torch.ones(B, 1)) for o in outs]
    assert singles[0].shape == (B, B)
    for i in range(len(outs)):  # one-hot weights reproduce that miner alone
        one_hot = torch.nn.functional.one_hot(torch.full((B,), i), len(outs)).float()
        assert torch.allclose(embedding.combine(outs, one_hot), singles[i], atol=1e-6)
    weights = torch.softmax(torch.randn(B, len(outs)), 1).requires_grad_()
    embedding.loss(embedding.combine(outs, weights), ch).mean().backward()
    assert weights.grad.abs().sum() > 0


def test_features_are_deterministic_and_fixed_width(embedding):
    a, b = embedding.challenge(4, B), embedding.challenge(4, B)
    fa = embedding.features(a)
    assert fa.shape == (B, 64) and torch.equal(fa, embedding.features(b))


def test_minilm_beats_bag_of_words_beats_random(embedding):
    rows = {r["miner"]: r for r in evaluate(embedding, seeds=[0, 1], batch_size=B)}
    assert rows["minilm"]["loss"] < rows["bow"]["loss"] < rows["random"]["loss"]
    assert rows["minilm"]["mrr"] > rows["bow"]["mrr"] > rows["random"]["mrr"]
    assert rows["minilm"]["mrr"] > 0.7  # chance on 16 candidates is about 0.21


def test_subnet_checks_pass_and_null_loss_is_the_uninformed_mixture(embedding):
    assert any("batched weights and null loss consistent" in line for line in check_subnet(embedding))
    ch = embedding.challenge(9, 8)
    uninformed = embedding.loss(torch.zeros(8, 8), ch)  # every candidate equally similar
    assert torch.allclose(embedding.null_loss(ch), uninformed)
