"""Standard attackers a subnet's incentives must not pay: a lookup table, copiers, noise, a constant.

Each is a miner model (`forward(request) -> response`) built from the spec alone, so any subnet can
be tested with `neuron subnet eval NAME --adversaries` (subnets/evaluate.py runs them beside the
reference miners through the validator's own gate and scoring, and prints the weight each earns):

- lookup-table: memorises the spec's `oracle` answer (the best answer, target known) for every
  challenge it can build from public code and data (`public_batches` challenges from public seeds),
  keyed by the bytes of each request row; rows it has not seen get noise. It beats the real model
  when challenges are a pure function of public inputs.
- copier (refused): relays the validator's query to the best reference miner, which refuses callers
  without a validator permit (the miner default), so it has nothing to answer.
- copier (permitted): the same relay from a hotkey holding a permit; it may take a fair share of its
  victim's credit (Shapley splits identical answers), never more.
- noise: random tensors within the response spec's bounds.
- constant: the same answer whatever the request (1.0 in every float, the lower bound in every int).
"""
from __future__ import annotations

import hashlib
from typing import Any, Mapping

import torch

from subnets.spec import DTYPES, MinerModel, SubnetSpec

PERMITTED_COPIER = "copier (permitted)"


def response_shapes(spec: SubnetSpec, request: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """The shape of every response tensor for `request`; symbolic dims the request leaves unbound are 1."""
    dims = spec.validate_request(request)
    return {k: tuple(d if isinstance(d, int) else dims.get(d, 1) for d in s.shape) for k, s in spec.response.items()}


def _random_like_spec(spec: SubnetSpec, shapes: Mapping[str, tuple[int, ...]], g: torch.Generator) -> dict:
    out = {}
    for key, ts in spec.response.items():
        dtype, shape = DTYPES[ts.dtype], shapes[key]
        if dtype.is_floating_point:
            t = torch.randn(shape, generator=g)
            t = t.clamp(ts.low if ts.low is not None else -1e30, ts.high if ts.high is not None else 1e30)
        elif dtype == torch.bool:
            t = torch.rand(shape, generator=g) < 0.5
        else:
            low = int(ts.low) if ts.low is not None else 0
            high = int(ts.high) if ts.high is not None else low + 1000
            t = torch.randint(low, high + 1, shape, generator=g)
        out[key] = t.to(dtype)
    return out


class Noise:
    """Random answers within the response spec: no information about the request."""

    def __init__(self, spec: SubnetSpec, seed: int = 0):
        self.spec, self.g = spec, torch.Generator().manual_seed(seed)

    def forward(self, request):
        return _random_like_spec(self.spec, response_shapes(self.spec, request), self.g)


class Constant:
    """One fixed answer: 1.0 in every float (clamped into its bounds), the lower bound in every int."""

    def __init__(self, spec: SubnetSpec, seed: int = 0):
        self.spec = spec

    def forward(self, request):
        shapes, out = response_shapes(self.spec, request), {}
        for key, ts in self.spec.response.items():
            dtype = DTYPES[ts.dtype]
            value = 1.0 if dtype.is_floating_point else (ts.low or 0)
            value = min(max(value, ts.low if ts.low is not None else value), ts.high if ts.high is not None else value)
            out[key] = torch.full(shapes[key], value, dtype=dtype)
        return out


class Copier:
    """Relays each request to `victim` (a reference miner) and returns its answer unchanged."""

    def __init__(self, victim: MinerModel):
        self.victim = victim

    def forward(self, request):
        return {k: v.clone() for k, v in self.victim.forward(request).items()}


class Refused:
    """A relaying copier without a validator permit: its victim refuses the relay, so no answer."""

    def forward(self, request):
        return None


def row_key(request: Mapping[str, torch.Tensor], b: int, pad: Mapping[str, float] | None = None) -> bytes:
    """A digest of row b of every request tensor (a lookup table's key); trailing `pad` values
    (the spec's `batch_pad`, which depend on the batch's longest row) are left out."""
    h = hashlib.blake2b(digest_size=16)
    for k in sorted(request):
        row = request[k][b].flatten()
        if pad and k in pad:
            keep = (row != pad[k]).nonzero()
            row = row[: int(keep.max()) + 1] if keep.numel() else row[:0]
        h.update(k.encode())
        h.update(row.contiguous().numpy().tobytes())
    return h.digest()


class LookupTable:
    """Memorised oracle answers for every row of `public_batches` challenges from public seeds."""

    def __init__(self, spec: SubnetSpec, public_batches: int = 48, seed: int = 0):
        if spec.oracle is None:
            raise ValueError(f"subnet {spec.name!r} has no oracle(challenge) to memorise")
        self.spec, self.fallback, self.pad = spec, Noise(spec, seed), dict(spec.batch_pad)
        self.table: dict[bytes, dict[str, torch.Tensor]] = {}
        batch = spec.max_dims.get("batch", 256)  # the largest challenges cover the public data fastest
        for s in range(public_batches):
            ch = spec.challenge(s, batch)
            answer = spec.oracle(ch)
            for b in range(ch.batch_size):
                self.table.setdefault(row_key(ch.request, b, self.pad), {k: v[b] for k, v in answer.items()})
        self.hits = self.asked = 0

    def forward(self, request):
        n = next(iter(request.values())).shape[0]
        rows = [self.table.get(row_key(request, b, self.pad)) for b in range(n)]
        self.asked += n
        self.hits += sum(r is not None for r in rows)
        guess = self.fallback.forward(request)
        try:
            return {k: torch.stack([r[k] if r is not None else guess[k][b] for b, r in enumerate(rows)]).to(v.dtype)
                    for k, v in guess.items()}
        except RuntimeError:  # memorised rows of another shape than this request's: guess
            return guess

    @property
    def hit_rate(self) -> float:
        return self.hits / self.asked if self.asked else 0.0


def standard_adversaries(spec: SubnetSpec, victim: MinerModel, public_batches: int = 48,
                         seed: int = 0) -> dict[str, Any]:
    """name -> model of every standard attacker the spec supports (the lookup table needs `oracle`)."""
    out: dict[str, Any] = {}
    if spec.oracle is not None:
        out["lookup-table"] = LookupTable(spec, public_batches, seed)
    out["copier (refused)"] = Refused()
    out[PERMITTED_COPIER] = Copier(victim)
    out["noise"] = Noise(spec, seed + 1)
    out["constant"] = Constant(spec, seed)
    return out
