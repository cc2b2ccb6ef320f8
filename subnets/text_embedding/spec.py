"""text-embedding subnet spec.

Request: the docstring summaries and the code of a batch of stdlib functions, as shared-tokenizer
ids ([CLS] ... [SEP], right-padded with 0). The code is perturbed per challenge: its local names
are renamed from the (secret) seed, so a table memorising the public corpus finds no exact match.
Response: one DIM-sized embedding per side.
Each miner's embeddings live in its own space, so the validator never mixes embeddings: it mixes
each miner's cosine-similarity matrix (query i x code j) and scores the mixture by in-batch
retrieval, the true code of query i being candidate i.
"""
from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

from subnets.spec import Challenge, SubnetSpec, TensorSpec
from subnets.text.corpus import code_pairs
from subnets.text.features import hashed_histogram
from subnets.text.perturb import rename_function
from subnets.text.tokenizer import PAD_ID, VOCAB_SIZE, encode_batch

DIM = 384
QUERY_LEN, CODE_LEN = 64, 128
TEMPERATURE = 0.05  # cosine similarities / T are the contrastive logits
IDS = dict(dtype="int64", low=0, high=VOCAB_SIZE - 1)
EMB = dict(dtype="float32", low=-1e6, high=1e6)


class TextEmbedding(SubnetSpec):
    name = "text-embedding"
    synapse = "TextEmbedding"
    version = 2  # 2: code renamed per challenge
    description = "Embed stdlib docstrings and code; the mixture retrieves each docstring's code."
    request = {
        "query_ids": TensorSpec(("batch", "query_len"), **IDS),
        "code_ids": TensorSpec(("batch", "code_len"), **IDS),
    }
    response = {
        "query_emb": TensorSpec(("batch", DIM), **EMB),
        "code_emb": TensorSpec(("batch", DIM), **EMB),
    }
    max_dims = {"batch": 256, "query_len": QUERY_LEN, "code_len": CODE_LEN}
    # the validator's API answer: the mixed similarity matrix (a convex mix of cosines)
    answer_spec = {"mixture": TensorSpec(("batch", "batch"), "float32", low=-1.001, high=1.001)}
    feature_dim = 64
    batched_weights = True
    rows_independent = True  # each text's embedding depends on that text alone: miners may merge requests
    batch_pad = {"query_ids": PAD_ID, "code_ids": PAD_ID}  # the models mask PAD_ID
    hyperparameters = {"tempo": 100, "min_allowed_weights": 1, "max_weight_limit": 65535,
                       "commit_reveal": True}

    def challenge(self, seed: int, batch_size: int) -> Challenge:
        pairs = code_pairs("eval")
        if not 1 <= batch_size <= min(len(pairs), self.max_dims["batch"]):
            raise ValueError(f"batch_size must be in 1..{min(len(pairs), self.max_dims['batch'])}")
        rng = random.Random(seed)
        chosen = [pairs[i] for i in rng.sample(range(len(pairs)), batch_size)]
        request = {
            "query_ids": encode_batch([p["doc"] for p in chosen], QUERY_LEN),
            "code_ids": encode_batch([rename_function(p["code"], rng) for p in chosen], CODE_LEN),
        }
        target = torch.arange(batch_size)  # query i's code is candidate i
        return Challenge(seed, request, target, {"where": [p["where"] for p in chosen]})

    def features(self, challenge: Challenge) -> torch.Tensor:
        r = challenge.request  # -> [batch, 64]
        return torch.cat([hashed_histogram(r["query_ids"], 32), hashed_histogram(r["code_ids"], 32)], 1)

    def combine(self, outputs: list[dict[str, torch.Tensor]], weights: torch.Tensor) -> torch.Tensor:
        """Mixture of similarity matrices: [..., batch, batch] = sum_k weights[..., :, k] * sim_k."""
        unit = lambda t: F.normalize(t.float(), dim=-1)
        sims = torch.stack([unit(o["query_emb"]) @ unit(o["code_emb"]).T for o in outputs])  # [k, batch, batch]
        return torch.einsum("...bk,kbc->...bc", weights, sims)

    def loss(self, mixture: torch.Tensor, challenge: Challenge) -> torch.Tensor:
        n = mixture.shape[-1]
        rows = mixture.reshape(-1, n)  # [m * batch, batch]: rows are queries, whatever the leading dims
        target = challenge.target.repeat(rows.shape[0] // n)
        return F.cross_entropy(rows / TEMPERATURE, target, reduction="none").view(mixture.shape[:-1])

    def select(self, request: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every routed miner gets the whole batch: a query is ranked against all the batch's code."""
        return request

    def place(self, response: dict[str, torch.Tensor], index: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
        return response

    def oracle(self, challenge: Challenge) -> dict[str, torch.Tensor]:
        """Knowing the pairs: one random unit vector per pair, for its query and its code alike."""
        v = F.normalize(torch.randn(challenge.batch_size, DIM, generator=torch.Generator().manual_seed(challenge.seed)), dim=-1)
        return {"query_emb": v, "code_emb": v.clone()}

    def null_loss(self, challenge: Challenge) -> torch.Tensor:
        """No miner answered: every candidate equally likely, log(batch)."""
        return torch.full((challenge.batch_size,), math.log(challenge.batch_size))

    def metric(self, mixture: torch.Tensor, challenge: Challenge) -> dict[str, float]:
        true = mixture.gather(1, challenge.target[:, None])  # [batch, 1]
        rank = (mixture >= true).sum(1).float()  # ties count against the miner
        return {"mrr": float((1 / rank).mean()), "top1": float((rank == 1).float().mean())}

    def request_from_text(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Application query: every text is both a query and a candidate."""
        return {"query_ids": encode_batch(texts, QUERY_LEN), "code_ids": encode_batch(texts, CODE_LEN)}

    def render(self, mixture: torch.Tensor, request: dict[str, torch.Tensor]) -> list[str]:
        """For each text, the other text the mixture finds most similar."""
        sims = mixture.detach().clone().fill_diagonal_(float("-inf"))
        if sims.shape[0] < 2:
            return ["(give at least two texts to compare)"]
        best = sims.argmax(1)
        return [f"closest to text {int(j)} (similarity {float(sims[i, j]):.3f})" for i, j in enumerate(best)]

    def miners(self):
        from subnets.text_embedding import miners

        return {"minilm": miners.MiniLMEmbedder, "bow": miners.BagOfWords, "random": miners.RandomProjection}
