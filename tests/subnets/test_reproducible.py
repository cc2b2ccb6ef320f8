"""A validator's challenge can be replayed from its seed on a fresh machine (empty cache)."""
import hashlib
import subprocess
import sys
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from subnets.registry import get
from subnets.text_embedding.spec import TextEmbedding

ROOT = Path(__file__).resolve().parents[2]
DIGEST = ("import hashlib, sys; from subnets.registry import get; "
          "c = get('text-embedding').challenge(11, 8); "
          "print(hashlib.sha256(b''.join(t.numpy().tobytes() for t in c.request.values())).hexdigest())")


def test_fresh_cache_gives_the_same_challenge(tmp_path):
    env = {"OPENSUBNET_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    fresh = subprocess.run([sys.executable, "-c", DIGEST], env=env, capture_output=True, text=True,
                           timeout=120, check=True).stdout.strip()
    assert list(tmp_path.glob("corpus/pairs-*.json")), "the fresh run should have extracted the corpus"
    c = get("text-embedding").challenge(11, 8)
    here = hashlib.sha256(b"".join(t.numpy().tobytes() for t in c.request.values())).hexdigest()
    assert fresh == here


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
