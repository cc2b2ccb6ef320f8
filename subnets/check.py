"""A quick self-check of any subnet spec: the round trip every validator and miner relies on.

Raises SubnetCheckFailed naming the first broken rule; used by `neuron subnet check` and `new`.
`memorisation_warnings` adds what is legal but unsafe: challenges a lookup table can answer.
"""
from __future__ import annotations

import torch

from subnets.spec import SpecError, SubnetSpec

MEMO_ROUNDS, MEMO_BATCH = 16, 32
MEMO_MAX_REPEAT = 0.02  # a share of rows seen before, under other seeds, above which a table pays


class SubnetCheckFailed(AssertionError):
    pass


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise SubnetCheckFailed(what)


def check_subnet(spec: SubnetSpec, batch_size: int = 4, seed: int = 0) -> list[str]:
    """Run the round trip with every reference miner; returns one line per passed step."""
    done = []
    a, b, c = spec.challenge(seed, batch_size), spec.challenge(seed, batch_size), spec.challenge(seed + 1, batch_size)
    _require(a.request.keys() == b.request.keys() and all(torch.equal(a.request[k], b.request[k]) for k in a.request),
             "challenge(seed) is not reproducible: the same seed gave different tensors")
    _require(any(not torch.equal(a.request[k], c.request[k]) for k in a.request),
             "challenge ignores its seed: seeds 0 and 1 gave identical tensors")
    spec.validate_request(a.request)
    done.append(f"challenge: reproducible, {sorted(a.request)} valid")
    feats = spec.features(a)
    _require(tuple(feats.shape) == (batch_size, spec.feature_dim) and bool(torch.isfinite(feats).all()),
             f"features must be a finite [batch, {spec.feature_dim}] tensor, got {tuple(feats.shape)}")
    outputs = []
    for name, factory in sorted(spec.miners().items()):
        out = factory(seed).forward(a.request)
        try:
            spec.validate_response(out, a.request)
        except SpecError as e:
            raise SubnetCheckFailed(f"reference miner {name!r} gives an invalid response: {e}") from e
        outputs.append(out)
        done.append(f"miner {name}: response valid")
    weights = torch.full((batch_size, len(outputs)), 1 / len(outputs), requires_grad=True)
    loss = spec.loss(spec.combine(outputs, weights), a)
    _require(loss.shape == (batch_size,), f"loss must have shape [batch], got {tuple(loss.shape)}")
    try:
        loss.sum().backward()
    except RuntimeError as e:  # nothing in the graph requires grad
        raise SubnetCheckFailed(f"combine/loss are not differentiable in the gate weights: {e}") from e
    _require(weights.grad is not None and bool(torch.isfinite(weights.grad).all()),
             "combine/loss are not differentiable in the gate weights")
    if spec.batched_weights:  # m weight rows at once must equal m separate calls
        stack = torch.rand(3, batch_size, len(outputs), generator=torch.Generator().manual_seed(seed))
        together = spec.loss(spec.combine(outputs, stack), a)
        apart = torch.stack([spec.loss(spec.combine(outputs, w), a) for w in stack])
        _require(together.shape == apart.shape and torch.allclose(together, apart, atol=1e-5),
                 "batched_weights is set but combine/loss on [m, batch, k] weights differ from m calls")
    if spec.null_loss is not None:
        null = spec.null_loss(a)
        _require(tuple(null.shape) == (batch_size,), f"null_loss must have shape [batch], got {tuple(null.shape)}")
    metric = spec.metric(spec.combine(outputs, weights.detach()), a)
    _require(isinstance(metric, dict) and all(isinstance(v, float) for v in metric.values()),
             "metric must return a dict of floats")
    extras = [x for x, on in (("batched weights", spec.batched_weights), ("null loss", spec.null_loss)) if on]
    done.append(f"combine/loss/metric: differentiable, metric keys {sorted(metric)}"
                + (f", {' and '.join(extras)} consistent" if extras else ""))
    return done


def memorisation_warnings(spec: SubnetSpec, rounds: int = MEMO_ROUNDS, batch_size: int = MEMO_BATCH,
                          first_seed: int = 10_000) -> list[str]:
    """Warn when a spec's challenges look like a pure function of public inputs: a lookup table
    keyed on request rows, filled from challenges of other seeds, already holds the rows of new
    ones. Validators' seeds are secret, but rows drawn verbatim from a fixed public pool repeat
    whatever the seed, so a miner that memorises the pool is paid without doing the task."""
    batch_size = min(batch_size, spec.max_dims.get("batch", batch_size))
    seen: dict[bytes, int] = {}
    repeats = rows = 0
    for i in range(rounds):
        seed = first_seed + 7919 * i
        request = spec.challenge(seed, batch_size).request
        for r in range(next(iter(request.values())).shape[0]):
            key = b"|".join(request[k][r].detach().cpu().numpy().tobytes() for k in sorted(request))
            repeats += seen.get(key, seed) != seed
            seen.setdefault(key, seed)
            rows += 1
    share = repeats / max(rows, 1)
    if share <= MEMO_MAX_REPEAT:
        return []
    return [f"{share:.0%} of challenge rows repeat exactly under other seeds ({repeats}/{rows}): the challenges "
            "draw from a fixed public pool, so a miner memorising it is paid without doing the task. Perturb or "
            "recombine each item with the seed, or draw from data the validator keeps (see SubnetSpec.challenge)"]
