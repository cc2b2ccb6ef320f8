"""Reference miners for text-embedding, best to worst: MiniLM, hashed bag-of-words, random.

Each is built by factory(seed) and answers forward(request) -> {"query_emb", "code_emb"}.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from subnets.text.corpus import code_pairs
from subnets.text.features import _MULT, content_mask
from subnets.text.tokenizer import PAD_ID, VOCAB_SIZE, encode_plain, model_dir
from subnets.text_embedding.spec import CODE_LEN, DIM


@lru_cache(maxsize=1)
def _minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the package; never download
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(model_dir())).eval()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (real pretrained weights): mean-pooled, L2-normalised, 384-d."""

    def __init__(self, seed: int = 0):
        self.model = _minilm()

    @torch.no_grad()
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != PAD_ID).long()
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state  # [batch, len, 384]
        pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return F.normalize(pooled, dim=-1)

    def forward(self, request):
        return {"query_emb": self.embed(request["query_ids"]), "code_emb": self.embed(request["code_ids"])}


@lru_cache(maxsize=1)
def _idf() -> torch.Tensor:
    """Inverse document frequency of every token id over the held-out ("fit") pairs: [VOCAB_SIZE]."""
    pairs = code_pairs("fit")
    docs = encode_plain([p["doc"] for p in pairs] + [p["code"] for p in pairs])
    df = np.zeros(VOCAB_SIZE)
    for ids in docs:
        df[np.unique(ids)] += 1
    return torch.tensor(np.log((len(docs) + 1) / (df + 1)) + 1, dtype=torch.float32)


class BagOfWords:
    """Hashed, signed, IDF-weighted bag of word pieces (the IDF is fitted on the held-out split)."""

    def __init__(self, seed: int = 0):
        self.idf = _idf()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        weight = content_mask(ids).float() * self.idf[ids]
        sign = torch.where((ids * 40503) % 2 == 0, 1.0, -1.0)
        out = torch.zeros(ids.shape[0], DIM).scatter_add_(1, (ids * _MULT) % DIM, sign * weight)
        return F.normalize(out, dim=-1)

    def forward(self, request):
        return {"query_emb": self.embed(request["query_ids"]), "code_emb": self.embed(request["code_ids"])}


class RandomProjection:
    """Chance baseline: a seeded random projection of the positional id vector (no notion of
    which words match), so its rankings are close to random."""

    def __init__(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.proj = torch.randn(CODE_LEN, DIM, generator=g) / CODE_LEN**0.5  # [max_len, DIM]

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        x = ids.float() / VOCAB_SIZE  # [batch, len]
        return F.normalize(x @ self.proj[: ids.shape[1]], dim=-1)

    def forward(self, request):
        return {"query_emb": self.embed(request["query_ids"]), "code_emb": self.embed(request["code_ids"])}
