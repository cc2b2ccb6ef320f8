"""Cheap, deterministic gate features from token ids (no model, no vocabulary tables)."""
from __future__ import annotations

import torch

from subnets.text.tokenizer import CLS_ID, PAD_ID, SEP_ID

_MULT = 2654435761  # Knuth's multiplicative hash


def content_mask(ids: torch.Tensor) -> torch.Tensor:
    """True where ids are real tokens (not PAD/CLS/SEP)."""
    return (ids != PAD_ID) & (ids != CLS_ID) & (ids != SEP_ID)


def hashed_histogram(ids: torch.Tensor, buckets: int) -> torch.Tensor:
    """ids: [batch, len] int64 -> [batch, buckets] float32 L1-normalised token-bucket counts."""
    mask = content_mask(ids).float()
    idx = (ids * _MULT) % buckets
    hist = torch.zeros(ids.shape[0], buckets).scatter_add_(1, idx, mask)
    return hist / hist.sum(1, keepdim=True).clamp_min(1.0)
