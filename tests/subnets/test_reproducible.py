"""A validator's challenge can be replayed from its seed, on a fresh machine (empty cache) too."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnets.registry import get
from subnets.text import corpus
from subnets.text_embedding.spec import TextEmbedding


def test_fresh_cache_gives_the_same_challenge(tmp_path, monkeypatch):
    spec = get("text-embedding")
    cached = spec.challenge(11, 8).request
    monkeypatch.setenv("OPENSUBNET_CACHE", str(tmp_path))
    corpus.code_pairs.cache_clear()
    try:
        fresh = spec.challenge(11, 8).request  # extracts the corpus again from the stdlib sources
        assert list(tmp_path.glob("corpus/pairs-*.json")), "the fresh run should have extracted the corpus"
    finally:
        corpus.code_pairs.cache_clear()
    assert all(torch.equal(cached[k], fresh[k]) for k in cached)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 4), batch=st.integers(2, 6))
def test_embedding_mixture_lies_between_the_miners_similarities(seed, k, batch):
    g = torch.Generator().manual_seed(seed)
    outs = [{"query_emb": torch.randn(batch, 384, generator=g), "code_emb": torch.randn(batch, 384, generator=g)}
            for _ in range(k)]
    weights = torch.softmax(torch.randn(batch, k, generator=g), 1)
    spec = TextEmbedding()
    sims = torch.stack([spec.combine([o], torch.ones(batch, 1)) for o in outs])  # [k, batch, batch]
    mixture = spec.combine(outs, weights)
    assert bool((mixture <= sims.max(0).values + 1e-5).all() and (mixture >= sims.min(0).values - 1e-5).all())
    assert bool((sims.abs() <= 1 + 1e-5).all())  # cosine similarities
