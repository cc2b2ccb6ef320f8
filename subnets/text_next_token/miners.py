"""Reference miners for text-next-token, best to worst: n-gram, tiny transformer, uniform.

Each is built by factory(seed) and answers forward({"context"}) -> {"token_ids", "logits"}.
"""
from __future__ import annotations

import torch

from subnets.text.tokenizer import VOCAB_SIZE
from subnets.text_next_token.ngram import NGram
from subnets.text_next_token.transformer import TinyTransformer

__all__ = ["NGram", "TinyTransformer", "Uniform"]


class Uniform:
    """No knowledge: k ids drawn uniformly at random (seeded) per example, all logits equal."""

    def __init__(self, seed: int = 0, k: int = 16):
        self.k = k
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, request):
        batch = request["context"].shape[0]
        ids = torch.randint(0, VOCAB_SIZE, (batch, self.k), generator=self.gen, dtype=torch.int64)
        return {"token_ids": ids, "logits": torch.zeros(batch, self.k)}
