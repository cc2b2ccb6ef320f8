"""A tiny GPT-2 (transformers) trained briefly on the held-out ("fit") split at first use.

To train in seconds on 2 CPU cores it predicts over a compact vocabulary (the fit split's
COMPACT - 1 most frequent ids plus one "other" class) and maps back to shared-tokenizer ids.
The trained weights are cached under ~/.cache/opensubnet/models, keyed by config and corpus.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from functools import lru_cache

import numpy as np
import torch

from subnets.cache import atomic_write, cache_dir
from subnets.text.corpus import fingerprint, token_stream
from subnets.text.tokenizer import VOCAB_SIZE

log = logging.getLogger(__name__)

CONFIG = {"compact": 2048, "n_embd": 64, "n_layer": 2, "n_head": 2, "seq": 32, "batch": 32,
          "steps": 400, "lr": 5e-3, "seed": 0}


def _build(compact_vocab: int, cfg: dict):
    from transformers import GPT2Config, GPT2LMHeadModel

    conf = GPT2Config(vocab_size=compact_vocab, n_positions=128, n_embd=cfg["n_embd"],
                      n_layer=cfg["n_layer"], n_head=cfg["n_head"], resid_pdrop=0.0,
                      embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=None, eos_token_id=None)
    return GPT2LMHeadModel(conf)


def _train(cfg: dict) -> dict:
    stream = token_stream("fit").astype(np.int64)
    vocab = np.bincount(stream, minlength=VOCAB_SIZE).argsort()[::-1][: cfg["compact"] - 1].copy()
    to_compact = np.full(VOCAB_SIZE, cfg["compact"] - 1, dtype=np.int64)  # last class = "other"
    to_compact[vocab] = np.arange(len(vocab))
    data = torch.from_numpy(to_compact[stream])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matmuls: one thread is faster, and 30x faster on a busy machine
    try:
        with torch.random.fork_rng():
            return _fit(cfg, data, vocab)
    finally:
        torch.set_num_threads(threads)


def _fit(cfg: dict, data: torch.Tensor, vocab: np.ndarray) -> dict:
    """Train on random windows of `data` (compact ids), logging progress every 40 steps."""
    torch.manual_seed(cfg["seed"])
    model = _build(cfg["compact"], cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg["lr"], total_steps=cfg["steps"])
    start, t0 = torch.randint(0, len(data) - cfg["seq"] - 1, (cfg["steps"], cfg["batch"])), time.time()
    for step in range(cfg["steps"]):
        batch = data[start[step, :, None] + torch.arange(cfg["seq"] + 1)]  # [batch, seq + 1]
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 40 == 0 or step == cfg["steps"] - 1:
            log.info("training tiny GPT-2 on the fit split: step %d/%d, loss %.2f, %.0fs",
                     step + 1, cfg["steps"], loss.item(), time.time() - t0)
    return {"state": model.state_dict(), "vocab": torch.from_numpy(vocab)}


@lru_cache(maxsize=1)
def trained(cfg_json: str = json.dumps(CONFIG, sort_keys=True)):
    """(model, compact->real id map), trained once per config and corpus, then loaded from cache."""
    cfg = json.loads(cfg_json)
    key = hashlib.sha256(f"{cfg_json}{fingerprint()}".encode()).hexdigest()[:12]
    path = cache_dir("models") / f"next-token-gpt2-{key}.pt"
    if path.exists():
        blob = torch.load(path, weights_only=True)
    else:
        blob = _train(cfg)
        atomic_write(path, lambda tmp: torch.save(blob, tmp))
        log.info("cached the trained model at %s", path)
    model = _build(cfg["compact"], cfg)
    model.load_state_dict(blob["state"])
    return model.eval(), blob["vocab"]


class TinyTransformer:
    """Top-k next tokens of the tiny GPT-2; the "other" class is never proposed."""

    def __init__(self, seed: int = 0, k: int = 32):
        self.k = k
        self.model, self.vocab = trained()
        self.to_compact = torch.full((VOCAB_SIZE,), len(self.vocab), dtype=torch.int64)
        self.to_compact[self.vocab] = torch.arange(len(self.vocab))

    @torch.no_grad()
    def forward(self, request):
        ctx = self.to_compact[request["context"][:, -128:]]
        logits = self.model(input_ids=ctx).logits[:, -1, : len(self.vocab)]  # [batch, compact - 1]
        top = logits.topk(self.k, dim=-1)
        return {"token_ids": self.vocab[top.indices], "logits": top.values.float()}
