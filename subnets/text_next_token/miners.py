"""Reference miners for text-next-token, best to worst: SmolLM2 (a real pretrained LM), a
trigram counted on the fit split, uniform.

Each is built by factory(seed) and answers forward({"context"}) -> {"token_ids", "logits"}.
"""
from __future__ import annotations

import torch

from subnets.text import lm
from subnets.text.lm import VOCAB_SIZE
from subnets.text_next_token.ngram import NGram

__all__ = ["NGram", "SmolLM2", "Uniform"]


class SmolLM2:
    """SmolLM2-135M-Instruct's top-k next tokens (log-probabilities) after each context.
    <|endoftext|> (id 0) on the left is padding: masked out, positions start after it."""

    def __init__(self, seed: int = 0, k: int = 32):
        self.k = k
        self.model = lm.model()

    @torch.no_grad()
    def forward(self, request):
        ctx = request["context"][:, -256:]                      # [batch, ctx]
        mask = torch.cumsum(ctx != lm.EOS_ID, 1) > 0            # left padding is False
        positions = (mask.long().cumsum(1) - 1).clamp_min(0)
        logits = self.model(input_ids=ctx, attention_mask=mask.long(), position_ids=positions).logits[:, -1]
        top = torch.log_softmax(logits.float(), -1).topk(self.k, dim=-1)  # [batch, k]
        return {"token_ids": top.indices, "logits": top.values.clamp_min(-1e4)}


class Uniform:
    """No knowledge: k ids drawn uniformly at random (seeded) per example, all logits equal."""

    def __init__(self, seed: int = 0, k: int = 16):
        self.k = k
        self.gen = torch.Generator().manual_seed(seed)

    def forward(self, request):
        batch = request["context"].shape[0]
        ids = torch.randint(0, VOCAB_SIZE, (batch, self.k), generator=self.gen, dtype=torch.int64)
        return {"token_ids": ids, "logits": torch.zeros(batch, self.k)}
