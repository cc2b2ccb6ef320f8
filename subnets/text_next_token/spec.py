"""text-next-token subnet spec.

Request: CTX tokens of stdlib source as SmolLM2 token ids (byte-level BPE, 49152 ids: case and
whitespace kept, so a real code LM reads them as they are). Each challenge draws a stretch of an
eval-split file and renames its identifiers from the (secret) seed (subnets/text/perturb.py):
the code means the same, but no public text contains it, so a lookup table of the corpus misses
while a model that copies names from its context does not. Response: each miner's top-k token
ids (int64) and their logits (float32). A miner's distribution is the softmax of its logits on
its k ids, with FLOOR of the mass spread over the whole vocabulary so that every token keeps a
finite cross-entropy; the validator mixes these distributions with the gate weights, kept
sparse (TokenMixture) so that mixing 64 miners does not build 64 vocabulary-sized rows.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

from subnets.spec import Challenge, SubnetSpec, TensorSpec
from subnets.text.corpus import files_of, source
from subnets.text.features import hashed_histogram
from subnets.text.lm import EOS_ID, VOCAB_SIZE, decode, encode
from subnets.text.perturb import name_spans, rename

CTX = 32
MAX_K = 64
FLOOR = 0.01
CHUNK_CHARS = 1500  # source text renamed and tokenized around each drawn position
IDS = dict(dtype="int64", low=0, high=VOCAB_SIZE - 1)


@dataclass
class TokenMixture:
    """A mixture of top-k distributions kept sparse: p(t) = sum(mass[ids == t]) + floor.

    ids: [batch, K] every miner's ids side by side; mass: [..., batch, K]; floor: [..., batch]
    (the leading dims exist when the gate passes a stack of weight rows, one per coalition)."""

    ids: torch.Tensor
    mass: torch.Tensor
    floor: torch.Tensor

    def prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [batch] -> [..., batch] mixture probability of each row's token."""
        return (self.mass * (self.ids == tokens[:, None])).sum(-1) + self.floor

    def dense(self) -> torch.Tensor:
        """[batch, VOCAB_SIZE] (unbatched mixtures only)."""
        out = self.floor[:, None].expand(-1, VOCAB_SIZE).clone()
        return out.scatter_add(1, self.ids, self.mass)


class TextNextToken(SubnetSpec):
    name = "text-next-token"
    synapse = "TextNextToken"
    version = 2  # 2: SmolLM2 token ids, identifiers renamed per challenge
    description = "Predict the next token of stdlib source; the mixture is scored by cross-entropy."
    request = {"context": TensorSpec(("batch", "ctx"), **IDS)}
    response = {
        "token_ids": TensorSpec(("batch", "k"), **IDS),
        "logits": TensorSpec(("batch", "k"), dtype="float32", low=-1e4, high=1e4),
    }
    max_dims = {"batch": 256, "ctx": 128, "k": MAX_K, "mixed": 64 * MAX_K}  # mixed: the ids of up to 64 miners side by side
    # the validator's API answer: the sparse mixture itself (TokenMixture's fields)
    answer_spec = {
        "ids": TensorSpec(("batch", "mixed"), **IDS),
        "mass": TensorSpec(("batch", "mixed"), "float32", low=0.0, high=1.0),
        "floor": TensorSpec(("batch",), "float32", low=0.0, high=1.0),
    }
    feature_dim = 64
    # each row's next token depends on that row's context alone: miners may merge requests of the
    # same width (the validators' challenges are all CTX wide; application queries are left-padded)
    rows_independent = True
    batched_weights = True
    hyperparameters = {"tempo": 100, "min_allowed_weights": 1, "max_weight_limit": 65535,
                       "commit_reveal": True}

    def challenge(self, seed: int, batch_size: int) -> Challenge:
        if not 1 <= batch_size <= self.max_dims["batch"]:
            raise ValueError(f"batch_size must be in 1..{self.max_dims['batch']}")
        rng, files = random.Random(seed), files_of("eval")
        rows, where = [], []
        for _ in range(batch_size * 20):
            if len(rows) == batch_size:
                break
            rel = rng.choice(files)
            text = source(rel)
            spans = name_spans(text)
            if len(text) <= CHUNK_CHARS or not spans:
                continue
            start = text.rfind("\n", 0, rng.randrange(len(text) - CHUNK_CHARS)) + 1
            chunk = text[start : start + CHUNK_CHARS]
            ids = encode([rename(chunk, rng, spans=tuple((a - start, b - start, n) for a, b, n in spans
                                                          if a >= start and b <= start + CHUNK_CHARS))])[0]
            if len(ids) >= CTX + 2:
                pos = rng.randrange(CTX, len(ids) - 1)  # never the last token: it may be cut mid-word
                rows.append(ids[pos - CTX : pos + 1])
                where.append(f"{rel}:{text.count(chr(10), 0, start) + 1}")
        if len(rows) < batch_size:
            raise RuntimeError("the eval split has too few usable stdlib files; is the Python stdlib installed?")
        windows = torch.tensor(rows, dtype=torch.int64)  # [batch, CTX + 1]
        return Challenge(seed, {"context": windows[:, :CTX].contiguous()}, windows[:, CTX].contiguous(),
                         {"where": where})

    def features(self, challenge: Challenge) -> torch.Tensor:
        ctx = challenge.request["context"]  # -> [batch, 64]
        return torch.cat([hashed_histogram(ctx, 48), hashed_histogram(ctx[:, -4:], 16)], 1)

    def combine(self, outputs: list[dict[str, torch.Tensor]], weights: torch.Tensor) -> TokenMixture:
        """sum_k weights[..., k] * p_k, weights [batch, k] or [m, batch, k] (batched_weights)."""
        ids = torch.cat([o["token_ids"] for o in outputs], 1)  # [batch, K]
        p = torch.cat([(1 - FLOOR) * torch.softmax(o["logits"].float(), -1) for o in outputs], 1)
        owner = torch.cat([torch.full((o["token_ids"].shape[1],), i) for i, o in enumerate(outputs)])
        mass = weights[..., owner] * p  # [..., batch, K]
        return TokenMixture(ids, mass, weights.sum(-1) * (FLOOR / VOCAB_SIZE))

    def loss(self, mixture: TokenMixture, challenge: Challenge) -> torch.Tensor:
        return -mixture.prob(challenge.target).clamp_min(1e-12).log()  # [..., batch]

    def oracle(self, challenge: Challenge) -> dict[str, torch.Tensor]:
        """Knowing the next tokens: each row's true token, alone."""
        n = challenge.batch_size
        return {"token_ids": challenge.target.view(n, 1).clone(), "logits": torch.zeros(n, 1)}

    def null_loss(self, challenge: Challenge) -> torch.Tensor:
        """No miner answered: the uniform distribution's cross-entropy, log(VOCAB_SIZE)."""
        return torch.full((challenge.batch_size,), math.log(VOCAB_SIZE))

    def metric(self, mixture: TokenMixture, challenge: Challenge) -> dict[str, float]:
        ce = self.loss(mixture, challenge).mean()
        top5 = mixture.dense().topk(5, dim=1).indices
        return {
            "top1": float((top5[:, 0] == challenge.target).float().mean()),
            "top5": float((top5 == challenge.target[:, None]).any(1).float().mean()),
            "perplexity": float(ce.exp()),
        }

    def request_from_text(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Application query: the last CTX tokens of each text, left-padded to the longest."""
        rows = [ids[-CTX:] for ids in encode(texts)]
        if not all(rows):
            raise ValueError("every text needs at least one token")
        width = max(map(len, rows))
        return {"context": torch.tensor([[EOS_ID] * (width - len(r)) + r for r in rows], dtype=torch.int64)}

    def answer(self, mixture: TokenMixture) -> dict[str, torch.Tensor]:
        return {"ids": mixture.ids, "mass": mixture.mass.detach().float(), "floor": mixture.floor.detach().float()}

    def from_answer(self, tensors, request) -> TokenMixture:
        return TokenMixture(**super().from_answer(tensors, request))

    def render(self, mixture: TokenMixture, request: dict[str, torch.Tensor]) -> list[str]:
        """The five likeliest next tokens of each row, with their probabilities."""
        top = mixture.dense().detach().topk(5, dim=1)
        return [", ".join(f"{decode([int(t)])!r} {float(p):.2f}" for t, p in zip(ids, ps))
                for ids, ps in zip(top.indices, top.values)]

    def miners(self):
        from subnets.text_next_token import miners

        return {"smollm2": miners.SmolLM2, "ngram": miners.NGram, "uniform": miners.Uniform}
