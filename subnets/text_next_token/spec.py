"""text-next-token subnet spec.

Request: CTX tokens of stdlib source (shared-tokenizer ids). Response: each miner's top-k token
ids (int64) and their logits (float32). A miner's distribution is the softmax of its logits on
its k ids, with FLOOR of the mass spread over the whole vocabulary so that every token keeps a
finite cross-entropy; the validator mixes these distributions with the gate weights, kept
sparse (TokenMixture) so that mixing 64 miners does not build 64 vocabulary-sized rows.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import torch

from subnets.spec import Challenge, SubnetSpec, TensorSpec
from subnets.text.corpus import token_stream
from subnets.text.features import hashed_histogram
from subnets.text.tokenizer import PAD_ID, VOCAB_SIZE, decode, encode_plain

CTX = 32
MAX_K = 64
FLOOR = 0.01
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
    version = 1
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
    batched_weights = True
    hyperparameters = {"tempo": 100, "min_allowed_weights": 1, "max_weight_limit": 65535,
                       "commit_reveal": False}

    def challenge(self, seed: int, batch_size: int) -> Challenge:
        if not 1 <= batch_size <= self.max_dims["batch"]:
            raise ValueError(f"batch_size must be in 1..{self.max_dims['batch']}")
        stream = token_stream("eval")
        ends = random.Random(seed).sample(range(CTX, len(stream)), batch_size)
        idx = np.asarray(ends)[:, None] + np.arange(-CTX, 1)  # [batch, CTX + 1]
        windows = torch.from_numpy(stream[idx].astype(np.int64))
        return Challenge(seed, {"context": windows[:, :CTX].contiguous()}, windows[:, CTX].contiguous())

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
        rows = [ids[-CTX:] for ids in encode_plain(texts)]
        if not all(rows):
            raise ValueError("every text needs at least one token")
        width = max(map(len, rows))
        return {"context": torch.tensor([[PAD_ID] * (width - len(r)) + r for r in rows], dtype=torch.int64)}

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

        return {"ngram": miners.NGram, "transformer": miners.TinyTransformer, "uniform": miners.Uniform}
