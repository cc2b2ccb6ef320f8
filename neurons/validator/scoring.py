"""Each answering miner's contribution to the mixture's loss, per input (sampled Shapley or leave-one-out).

Contributions are per input row: a miner earns only on the rows routed to it, and a row's coalition
without any of its miners falls back to the spec's `null_loss` (the loss when nobody answers). A
step's score is the mean contribution over the batch with its standard error; the EMA turns them
into a lower confidence bound (see ema.py).

Shapley (the default) splits credit between miners who answer alike: two honest miners running the
same model each keep about half of what one would earn alone, and a copier relaying a victim's
answers can take at most that half (byte-identical answers to a row split its credit exactly).
Leave-one-out lets either of two identical answers be removed at little cost, so both lose most
of their credit to other miners.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch

from neurons.config.schema import ScoringSection
from neurons.validator.contract import MixtureSpec, Output


def coalition_losses(
    spec: MixtureSpec,
    outputs: Sequence[Output],  # [k] valid outputs, placed in the full batch
    weights: torch.Tensor,      # [batch, k] mixture weights over them
    challenge: Any,
    members: torch.Tensor,      # [m, k] bool
    served: torch.Tensor | None = None,  # [batch, k] bool: row b was answered by miner j (default all)
) -> torch.Tensor:              # [m, batch] loss of each coalition's renormalised mixture (null loss on empty rows)
    batch, k = weights.shape
    served = torch.ones(batch, k, dtype=torch.bool) if served is None else served
    present = served.unsqueeze(0) & members.unsqueeze(1)                    # [m, batch, k]
    w = weights.unsqueeze(0) * present
    total = w.sum(-1, keepdim=True)
    uniform = present / present.sum(-1, keepdim=True).clamp_min(1)
    w = torch.where(total > 1e-12, w / total.clamp_min(1e-12), uniform)      # all weight underflowed -> uniform
    if getattr(spec, "batched_weights", False):
        losses = spec.loss(spec.combine(outputs, w), challenge)
    else:
        rows = []
        for j in range(members.shape[0]):
            idx = members[j].nonzero().flatten().tolist()
            if not idx:
                rows.append(torch.full((batch,), math.nan))
                continue
            rows.append(spec.loss(spec.combine([outputs[i] for i in idx], w[j][:, idx]), challenge))
        losses = torch.stack(rows)
    empty = ~present.any(-1)                                                 # [m, batch]
    return torch.where(empty, _null_rows(spec, challenge, batch).unsqueeze(0), losses.float())


def _null_rows(spec: MixtureSpec, challenge: Any, batch: int) -> torch.Tensor:
    """[batch] loss when no miner answers a row (nan when the spec has no `null_loss`)."""
    fn = getattr(spec, "null_loss", None)
    return torch.full((batch,), math.nan) if fn is None else fn(challenge).float()


@torch.no_grad()
def leave_one_out(spec, outputs, weights, challenge, served=None) -> torch.Tensor:
    """[k, batch]: per-row loss of the mixture without miner i minus the full mixture's (nan = not measurable)."""
    k = len(outputs)
    members = torch.cat([torch.ones(1, k, dtype=torch.bool), ~torch.eye(k, dtype=torch.bool)])  # [k+1, k]
    losses = coalition_losses(spec, outputs, weights, challenge, members, served)  # [k+1, batch]
    return losses[1:] - losses[0]


def permutations_for(k: int, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """[P, k] orders: all k! when n >= k!, else n/2 random orders and their reverses (antithetic:
    two miners answering alike then split the credit exactly, whatever the draw)."""
    if n >= math.factorial(k):
        return torch.tensor(list(itertools.permutations(range(k))), dtype=torch.long).view(-1, k)
    half = torch.stack([torch.randperm(k, generator=generator) for _ in range(max(1, n // 2))])
    return torch.cat([half, half.flip(1)])


@torch.no_grad()
def shapley(spec, outputs, weights, challenge, permutations: int, generator=None, served=None) -> torch.Tensor:
    """[k, batch]: sampled Shapley values per row, in loss decrease (nan = not measurable).

    Each permutation adds miners one by one; a miner earns the loss drop it causes on each row.
    Without the spec's `null_loss`, the first position of each permutation has no baseline and is
    not counted."""
    k, batch = len(outputs), weights.shape[0]
    perms = permutations_for(k, permutations, generator)                 # [P, k]
    p = perms.shape[0]
    ranks = torch.argsort(perms, dim=1)                                  # [P, k] position of miner i
    prefixes = ranks.unsqueeze(1) < torch.arange(1, k + 1).view(1, k, 1)  # [P, k, k]: first j+1 miners
    unique, inverse = torch.unique(prefixes.reshape(-1, k), dim=0, return_inverse=True)
    value = coalition_losses(spec, outputs, weights, challenge, unique, served)[inverse].view(p, k, batch)
    before = torch.cat([_null_rows(spec, challenge, batch).expand(p, 1, batch), value[:, :-1]], 1)
    gain = before - value                                                # [P, k, batch] by position
    by_miner = torch.gather(gain, 1, ranks.unsqueeze(-1).expand(p, k, batch))  # [P, k, batch] by miner
    counted = torch.isfinite(by_miner)
    n = counted.sum(0)
    total = torch.where(counted, by_miner, torch.zeros(())).sum(0)
    return torch.where(n > 0, total / n.clamp_min(1), torch.full((k, batch), math.nan))


def _pool_identical(per_row: torch.Tensor, outputs: Sequence[Output], served: torch.Tensor) -> torch.Tensor:
    """Miners whose answers to a row are identical split that row's credit equally (a relayed copy
    takes exactly half, never more). per_row: [k, batch]; served: [batch, k] bool."""
    k, batch = per_row.shape
    fp = torch.stack([_fingerprint(o, batch) for o in outputs])                   # [k, batch]
    same = (fp.unsqueeze(1) == fp.unsqueeze(0)) & served.T.unsqueeze(1) & served.T.unsqueeze(0)  # [k, k, batch]
    same |= torch.eye(k, dtype=torch.bool).unsqueeze(-1)
    pairs = (same.any(-1) & ~torch.eye(k, dtype=torch.bool)).nonzero().tolist()
    if not pairs:
        return per_row
    for i, j in pairs:  # equal fingerprints: confirm exactly
        same[i, j] &= _rows_equal(outputs[i], outputs[j], batch)
    share = same.float() / same.float().sum(1, keepdim=True)                        # rows of a group average
    pooled = torch.einsum("ijb,jb->ib", share, torch.nan_to_num(per_row, nan=0.0))
    return torch.where(torch.isnan(per_row), per_row, pooled)                       # unmeasurable stays so


def _fingerprint(output: Output, batch: int) -> torch.Tensor:
    """[batch] float64: a fixed random projection of each row of every tensor (equal rows, equal prints)."""
    total = torch.zeros(batch, dtype=torch.float64)
    for key in sorted(output):
        rows = output[key].detach().reshape(batch, -1).double()
        proj = torch.randn(rows.shape[1], generator=torch.Generator().manual_seed(rows.shape[1]), dtype=torch.float64)
        total += rows @ proj
    return total


def _rows_equal(a: Output, b: Output, batch: int) -> torch.Tensor:
    """[batch] bool: every tensor of the two answers has equal rows."""
    eq = torch.ones(batch, dtype=torch.bool)
    if a.keys() != b.keys():
        return ~eq
    for key in a:
        x, y = a[key], b[key]
        if x.shape != y.shape or x.dtype != y.dtype:
            return ~eq
        eq &= (x == y).reshape(batch, -1).all(1)
    return eq


def score(
    spec: MixtureSpec,
    challenge: Any,
    outputs: Sequence[Output | None],  # [k], None for failed or invalid answers; others placed in the full batch
    ok: torch.Tensor,                  # [k] bool
    weights: torch.Tensor,             # [batch, k] mixture weights (0 where not ok or not routed)
    config: ScoringSection,
    generator: torch.Generator | None = None,
    rows: torch.Tensor | None = None,  # [batch, k] bool: the rows routed to each miner (default all)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean contribution [k], its squared standard error [k], measured [k] bool).

    The mean is over the whole batch (0 on rows a miner was not sent), so a miner routed more
    rows earns more. Failures score 0 with no uncertainty; unmeasurable miners are not measured."""
    k, batch = ok.numel(), weights.shape[0]
    means, se2, measured = torch.zeros(k), torch.zeros(k), torch.ones(k, dtype=torch.bool)
    idx = ok.nonzero().flatten()
    if idx.numel() == 0:
        return means, se2, measured
    outs = [outputs[i] for i in idx.tolist()]
    w = weights.detach()[:, idx]
    served = (torch.ones(batch, k, dtype=torch.bool) if rows is None else rows)[:, idx]
    if config.method == "shapley":
        per_row = shapley(spec, outs, w, challenge, config.permutations, generator, served)
    else:
        per_row = leave_one_out(spec, outs, w, challenge, served)
    per_row = _pool_identical(torch.where(served.T, per_row.float(), torch.zeros(())), outs, served)  # [k_ok, batch]
    finite = (torch.isfinite(per_row) & served.T).any(1)               # [k_ok]: some routed row measurable
    c = torch.where(torch.isfinite(per_row), per_row, torch.zeros(()))
    measured[idx] = finite
    means[idx] = torch.where(finite, c.mean(1), torch.zeros(()))
    var = c.var(1, unbiased=True) if batch > 1 else torch.zeros(idx.numel())
    se2[idx] = torch.where(finite, var / batch, torch.zeros(()))
    return means, se2, measured
