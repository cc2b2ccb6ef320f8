"""The incentive-spec API: what a subnet declares and the checks both sides run on its tensors.

A subnet is a `SubnetSpec` subclass. Miners call `validate_request` on what they receive,
validators call `validate_response` on what comes back; both raise a `SpecError` subclass
naming the tensor and the problem. Symbolic dims ("batch", "ctx") bind on first use and must
agree across tensors; `max_dims` bounds them so a hostile request cannot ask for a huge batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Protocol

import torch

DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16,
    "int32": torch.int32, "int64": torch.int64, "float16": torch.float16,
    "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64,
}

# Chain hyperparameters a subnet may ask for; units follow subtensor (max_weight_limit is u16, 65535 = 1.0).
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "tempo": 100,
    "min_allowed_weights": 1,
    "max_weight_limit": 65535,
    "commit_reveal": True,      # as on today's chain: validators commit, then reveal
    "weights_rate_limit": 100,
    "immunity_period": 4096,
}


class SpecError(ValueError):
    """A tensor does not match the subnet's declared synapse."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"tensor {key!r}: {problem}")
        self.key, self.problem = key, problem


class MissingTensor(SpecError): ...
class UnexpectedTensor(SpecError): ...
class WrongDtype(SpecError): ...
class WrongShape(SpecError): ...
class OutOfBounds(SpecError): ...
class NonFinite(SpecError): ...


@dataclass(frozen=True)
class TensorSpec:
    """Shape (ints or symbolic dim names), dtype name, optional inclusive value bounds."""

    shape: tuple[int | str, ...]
    dtype: str
    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; use one of {sorted(DTYPES)}")

    def check(self, key: str, t: Any, dims: dict[str, int], max_dims: Mapping[str, int]) -> None:
        """Raise a SpecError unless `t` matches; binds symbolic dims into `dims`."""
        if not isinstance(t, torch.Tensor):
            raise WrongDtype(key, f"expected a torch.Tensor, got {type(t).__name__}")
        if t.dtype != DTYPES[self.dtype]:
            raise WrongDtype(key, f"dtype {str(t.dtype).removeprefix('torch.')}, expected {self.dtype}")
        if t.dim() != len(self.shape):
            raise WrongShape(key, f"shape {tuple(t.shape)}, expected rank {len(self.shape)} {self.shape}")
        for axis, (want, got) in enumerate(zip(self.shape, t.shape)):
            if isinstance(want, int):
                if got != want:
                    raise WrongShape(key, f"dim {axis} is {got}, expected {want}")
                continue
            if want in dims and dims[want] != got:
                raise WrongShape(key, f"dim {axis} ({want}) is {got}, but {want}={dims[want]} elsewhere")
            if got < 1 or got > max_dims.get(want, got):
                raise WrongShape(key, f"dim {axis} ({want}) is {got}, allowed 1..{max_dims.get(want)}")
            dims[want] = got
        if t.numel() == 0:
            return
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise NonFinite(key, "contains NaN or infinity")
        if self.low is not None and bool((t < self.low).any()):
            raise OutOfBounds(key, f"value {t.min().item()} below {self.low}")
        if self.high is not None and bool((t > self.high).any()):
            raise OutOfBounds(key, f"value {t.max().item()} above {self.high}")


def check_tensors(
    specs: Mapping[str, TensorSpec], tensors: Mapping[str, Any], dims: dict[str, int],
    max_dims: Mapping[str, int],
) -> dict[str, int]:
    """Check a whole tensor dict against its specs (exact key set); returns the bound dims."""
    if not isinstance(tensors, Mapping):
        raise SpecError("*", f"expected a dict of tensors, got {type(tensors).__name__}")
    for key in specs:
        if key not in tensors:
            raise MissingTensor(key, "missing")
    for key in tensors:
        if key not in specs:
            raise UnexpectedTensor(key, f"not part of the synapse (expected {sorted(specs)})")
    for key, spec in specs.items():
        spec.check(key, tensors[key], dims, max_dims)
    return dims


@dataclass
class Challenge:
    """One seeded batch: `request` goes to miners, `target` stays with the validator's loss."""

    seed: int
    request: dict[str, torch.Tensor]
    target: Any
    info: dict[str, Any] = field(default_factory=dict)  # e.g. source names, for logs and demos

    @property
    def batch_size(self) -> int:
        return next(iter(self.request.values())).shape[0]


class MinerModel(Protocol):
    def forward(self, request: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...


MinerFactory = Callable[[int], MinerModel]  # seed -> model


class SubnetSpec:
    """Base class of every subnet. Subclasses set the class attributes and the six methods."""

    name: ClassVar[str]
    synapse: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    request: ClassVar[dict[str, TensorSpec]]
    response: ClassVar[dict[str, TensorSpec]]
    max_dims: ClassVar[dict[str, int]] = {"batch": 256}
    hyperparameters: ClassVar[dict[str, Any]] = {}
    feature_dim: ClassVar[int]  # width of features(); the gate is built before the first challenge
    default_batch_size: ClassVar[int] = 16  # challenge batch a validator uses unless configured
    timeout: ClassVar[float] = 12.0  # seconds a validator waits for one miner's response
    # True when combine also takes weights [m, batch, k] (m weightings at once, 0 = left out) and
    # loss then returns [m, batch]: the validator scores all coalitions of miners in one call.
    batched_weights: ClassVar[bool] = False
    # Optional method null_loss(challenge) -> [batch]: the loss when no miner answers (e.g. a
    # uniform guess); lets the validator credit a lone responder. None when there is no such baseline.
    null_loss: ClassVar[Callable[..., torch.Tensor] | None] = None
    # Optional methods select(request, index) -> request and place(response, index, batch_size) ->
    # response: what a miner routed to rows `index` [n] of a challenge receives, and how its answer
    # goes back into the batch. None = the default (neurons.validator.contract.select_rows/place_rows):
    # every tensor is batched on dim 0, sliced, and scattered back with zeros elsewhere. A subnet
    # whose rows are not separable (in-batch retrieval) returns the whole request and the response as is.
    select: ClassVar[Callable[..., dict] | None] = None
    place: ClassVar[Callable[..., dict] | None] = None
    # Optional method oracle(challenge) -> response: the answer that scores best when the target is
    # known. `neuron subnet eval NAME --adversaries` gives it to a lookup-table attacker that
    # memorises every challenge it can build from public code and data (subnets/adversaries.py).
    oracle: ClassVar[Callable[..., dict] | None] = None
    # Miner-side batching (neurons/batching.py): True when a miner's answer for a row depends on that row
    # only, so concurrent requests may be merged into one forward. batch_pad names request tensors whose
    # dim 1 may differ between requests: merged, they are right-padded with that value (e.g. a masked PAD id).
    rows_independent: ClassVar[bool] = False
    batch_pad: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.hyperparameters = {**DEFAULT_HYPERPARAMETERS, **cls.hyperparameters}

    # -- validation, used on both sides -------------------------------------------------------
    def validate_request(self, tensors: Mapping[str, Any]) -> dict[str, int]:
        return check_tensors(self.request, tensors, {}, self.max_dims)

    def validate_response(self, tensors: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, int]:
        dims = self.validate_request(request)
        return check_tensors(self.response, tensors, dims, self.max_dims)

    # -- the task -------------------------------------------------------------------------------
    def challenge(self, seed: int, batch_size: int) -> Challenge:
        """One batch, a pure function of (seed, batch_size): the same seed replays it exactly.

        The rule that keeps incentives honest: a miner must not be able to answer from memory.
        Validators' seeds mix a secret with the block hash (neurons/validator/seed.py), so the seed
        itself is unpredictable; but rows drawn verbatim from a public pool (a dataset, the stdlib)
        repeat under any seed, and a lookup table of that pool earns more than a real model. Use the
        seed to change the content too: generate it, perturb or recombine each item (the built-ins
        rename identifiers per challenge, subnets/text/perturb.py), or draw from data the validator
        keeps private. `neuron subnet check` warns when rows repeat across seeds."""
        raise NotImplementedError

    def features(self, challenge: Challenge) -> torch.Tensor:
        """[batch, feature_dim] cheap deterministic features the gate routes on.

        Uses challenge.request only (never the target), so application requests route too."""
        raise NotImplementedError

    def combine(self, outputs: list[dict[str, torch.Tensor]], weights: torch.Tensor) -> Any:
        """Mix k validated responses with gate weights [batch, k]; differentiable in `weights`."""
        raise NotImplementedError

    def loss(self, mixture: Any, challenge: Challenge) -> torch.Tensor:
        """[batch] per-example loss, lower is better."""
        raise NotImplementedError

    def metric(self, mixture: Any, challenge: Challenge) -> dict[str, float]:
        raise NotImplementedError

    def miners(self) -> dict[str, MinerFactory]:
        """Reference miners by name: factory(seed) -> model."""
        raise NotImplementedError

    # -- optional: applications querying a validator with text (`neuron query`) ----------------
    def request_from_text(self, texts: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"subnet {self.name!r} does not take text queries")

    def render(self, mixture: Any, request: dict[str, torch.Tensor]) -> list[str]:
        """One human-readable line per batch row of the mixture's answer."""
        raise NotImplementedError(f"subnet {self.name!r} does not render answers as text")

    # -- optional: the validator's API sends the mixture to applications as tensors -------------
    # Declares what answer() returns (symbolic dims bind to the request's, e.g. "batch");
    # None = the default: one float tensor "mixture" whose first dim is the batch.
    answer_spec: ClassVar[dict[str, TensorSpec] | None] = None

    def answer(self, mixture: Any) -> dict[str, torch.Tensor]:
        """The mixture as named tensors for the wire; from_answer() is its inverse."""
        if not isinstance(mixture, torch.Tensor):
            raise NotImplementedError(f"subnet {self.name!r}: override answer() to send a {type(mixture).__name__}")
        return {"mixture": mixture.detach()}

    def from_answer(self, tensors: Mapping[str, Any], request: Mapping[str, Any]) -> Any:
        """An application's view of a validator's answer: checked against the request (SpecError),
        then rebuilt for render(): a lone "mixture" tensor as is, several as a dict (override to rebuild)."""
        dims = self.validate_request(request)
        check_tensors(self.answer_spec or _default_answer_spec(tensors), tensors, dims, self.max_dims)
        return tensors["mixture"] if tensors.keys() == {"mixture"} else dict(tensors)

    def describe(self) -> dict[str, Any]:
        """A plain-data summary for `neuron subnet show`."""
        fmt = lambda specs: {k: {"shape": list(s.shape), "dtype": s.dtype, "low": s.low, "high": s.high}
                             for k, s in specs.items()}
        return {
            "name": self.name, "synapse": self.synapse, "version": self.version,
            "description": self.description, "request": fmt(self.request),
            "response": fmt(self.response), "max_dims": dict(self.max_dims),
            "feature_dim": self.feature_dim, "default_batch_size": self.default_batch_size,
            "timeout": self.timeout, "batched_weights": self.batched_weights,
            "null_loss": self.null_loss is not None,
            "hyperparameters": dict(self.hyperparameters), "miners": sorted(self.miners()),
        }


def _default_answer_spec(tensors: Any) -> dict[str, TensorSpec]:
    """One float32 tensor "mixture", batch first, of whatever rank it has."""
    t = tensors.get("mixture") if isinstance(tensors, Mapping) else None
    rank = t.dim() if isinstance(t, torch.Tensor) and t.dim() >= 1 else 1
    return {"mixture": TensorSpec(("batch", *(f"mixture_dim{i}" for i in range(1, rank))), "float32")}
