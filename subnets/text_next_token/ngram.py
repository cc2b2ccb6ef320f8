"""A back-off n-gram next-token model counted on the held-out ("fit") split of the corpus.

Counts are built with numpy (one sort per order, about a second) and kept per process.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from subnets.text.corpus import token_stream
from subnets.text.lm import VOCAB_SIZE

ORDER = 3
BACKOFF = 0.4  # "stupid backoff": a lower order's score is multiplied by this per level


class _Table:
    """Next-token counts for contexts of one length, each context's continuations by count."""

    def __init__(self, stream: np.ndarray, ctx_len: int, top: int):
        s = stream.astype(np.int64)
        n = len(s) - ctx_len
        ctx = np.zeros(n, dtype=np.int64)
        for j in range(ctx_len):
            ctx = ctx * VOCAB_SIZE + s[j : j + n]
        keys, counts = np.unique(ctx * VOCAB_SIZE + s[ctx_len:], return_counts=True)
        c, t = keys // VOCAB_SIZE, keys % VOCAB_SIZE
        order = np.lexsort((-counts, c))  # by context, then most frequent first
        c, t, counts = c[order], t[order], counts[order]
        self.contexts, starts = np.unique(c, return_index=True)
        ends = np.r_[starts[1:], len(c)]
        totals = np.add.reduceat(counts, starts)
        self.ctx_len, self.top = ctx_len, top
        self.starts, self.ends, self.totals, self.tokens, self.counts = starts, ends, totals, t, counts

    def lookup(self, context: list[int]) -> list[tuple[int, float]]:
        """[(token, log p)] for the most frequent continuations of `context` ([] if unseen)."""
        if len(context) < self.ctx_len:
            return []
        key = 0
        for tok in context[len(context) - self.ctx_len :] if self.ctx_len else []:
            key = key * VOCAB_SIZE + tok
        i = int(np.searchsorted(self.contexts, key))
        if i == len(self.contexts) or self.contexts[i] != key:
            return []
        lo, hi = self.starts[i], min(self.ends[i], self.starts[i] + self.top)
        total = float(self.totals[i])
        return [(int(t), math.log(c / total)) for t, c in zip(self.tokens[lo:hi], self.counts[lo:hi])]


@lru_cache(maxsize=1)
def _tables(top: int) -> tuple[_Table, ...]:
    stream = token_stream("fit")
    return tuple(_Table(stream, n, top) for n in range(ORDER - 1, -1, -1))  # highest order first


class NGram:
    """Trigram with stupid backoff to bigram and unigram; returns its top-k continuations."""

    def __init__(self, seed: int = 0, k: int = 32):
        self.k = k
        self.tables = _tables(k)

    def predict(self, context: list[int]) -> tuple[list[int], list[float]]:
        scores: dict[int, float] = {}
        for level, table in enumerate(self.tables):
            for tok, logp in table.lookup(context):
                scores.setdefault(tok, logp + level * math.log(BACKOFF))
            if len(scores) >= self.k:
                break
        best = sorted(scores.items(), key=lambda kv: -kv[1])[: self.k]
        return [t for t, _ in best], [s for _, s in best]

    @torch.no_grad()
    def forward(self, request):
        rows = [self.predict(ctx) for ctx in request["context"].tolist()]
        return {"token_ids": torch.tensor([r[0] for r in rows], dtype=torch.int64),
                "logits": torch.tensor([r[1] for r in rows], dtype=torch.float32)}
