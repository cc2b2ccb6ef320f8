"""text-embedding: real stdlib pairs, real MiniLM weights, and the ordering of the reference miners."""
import pytest
import torch
import torch.nn.functional as F

from subnets.check import check_subnet
from subnets.evaluate import evaluate
from subnets.spec import Challenge, OutOfBounds, WrongDtype, WrongShape
from subnets.text.corpus import code_pairs
from subnets.text.tokenizer import PAD_ID, encode_batch
from subnets.text_embedding.spec import CODE_LEN, DIM, QUERY_LEN

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


class PublicLookup:
    """The memorising attack: one fixed random vector per public (docstring, code) pair, looked up by
    the exact token ids of either side; unknown texts get a random vector."""

    def __init__(self):
        pairs = code_pairs("fit") + code_pairs("eval")
        self.vectors = F.normalize(torch.randn(len(pairs), DIM, generator=torch.Generator().manual_seed(0)), dim=-1)
        self.table = {}
        for side, width in (("doc", QUERY_LEN), ("code", CODE_LEN)):
            for i, row in enumerate(encode_batch([p[side] for p in pairs], width)):
                self.table[self.key(row)] = i
        self.gen = torch.Generator().manual_seed(1)

    @staticmethod
    def key(row):
        return tuple(row[row != PAD_ID].tolist())

    def embed(self, ids):
        return torch.stack([self.vectors[i] if (i := self.table.get(self.key(r))) is not None
                            else F.normalize(torch.randn(DIM, generator=self.gen), dim=0) for r in ids])

    def forward(self, request):
        return {"query_emb": self.embed(request["query_ids"]), "code_emb": self.embed(request["code_ids"])}


def test_a_table_of_the_public_corpus_scores_worse_than_the_real_models(embedding, embedding_miners):
    lookup = PublicLookup()
    public = code_pairs("eval")[:B]  # verbatim public items: the table knows them all
    verbatim = {"query_ids": encode_batch([p["doc"] for p in public], QUERY_LEN),
                "code_ids": encode_batch([p["code"] for p in public], CODE_LEN)}
    mix = embedding.combine([lookup.forward(verbatim)], torch.ones(B, 1))
    assert embedding.metric(mix, Challenge(0, verbatim, torch.arange(B)))["mrr"] == 1.0  # the attack works...
    scores = {name: [] for name in ("lookup", "minilm", "bow")}
    for seed in (0, 1):  # ...but challenges rename the code per seed, so it finds nothing to look up
        ch = embedding.challenge(seed, B)
        for name, miner in (("lookup", lookup), ("minilm", embedding_miners["minilm"]), ("bow", embedding_miners["bow"])):
            mix = embedding.combine([miner.forward(ch.request)], torch.ones(B, 1))
            scores[name].append((float(embedding.loss(mix, ch).mean()), embedding.metric(mix, ch)["mrr"]))
    mean = {n: [sum(v) / len(v) for v in zip(*rows)] for n, rows in scores.items()}  # name -> [loss, mrr]
    assert mean["lookup"][0] > mean["bow"][0] > mean["minilm"][0]
    assert mean["lookup"][1] < 0.5 < mean["bow"][1] < mean["minilm"][1]
