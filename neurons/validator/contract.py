"""What neurons need from a subnet spec, declared once (duck-typed; neurons never import subnets).

`MixtureSpec` is what the gate and the scorer call; `SubnetContract` is everything the miner, the
validator, its API and `neuron query` use. `neurons.plugins.load_subnet` checks a spec against
`SubnetContract` when it loads it (`contract_problems`), so a spec missing a member fails at start-up
with a `ContractError` naming every missing or wrong member, not in the middle of serving.
"""
from __future__ import annotations

import typing
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import torch

Output = Mapping[str, torch.Tensor]  # one miner's decoded response


class BadSubnet(TypeError):
    """A subnet reference that does not resolve to a usable spec class."""

    hint = "check it with `neuron subnet check REF` (REF: a name from `neuron subnet list`, module:Class or a .py file)"


class ContractError(BadSubnet):
    """A spec that lacks, or mistypes, a member of SubnetContract."""


@runtime_checkable
class MixtureSpec(Protocol):
    """The three calls the gate and the scorer make on a subnet spec.

    Optional extras, found with getattr:
      - ``null_loss(challenge) -> [batch]``: the loss when no miner answers (e.g. a uniform
        prediction); lets a lone responder and sampled Shapley's first position be scored.
      - ``batched_weights = True``: ``combine`` accepts weights ``[m, batch, k]`` (a zero weight
        meaning "left out") and ``loss`` then returns ``[m, batch]``; scoring then evaluates all
        coalitions in one call instead of a loop.
      - ``select(request, index) -> request`` and ``place(response, index, batch_size) -> response``:
        the part of a request a miner routed to rows ``index`` [n] receives, and how its answer
        goes back into the full batch. Default (`select_rows`, `place_rows`): every tensor is
        batched on dim 0, sliced and scattered (zeros elsewhere). A spec whose rows are not
        separable (e.g. in-batch retrieval) returns the whole request and the response as is.
    """

    def features(self, challenge: Any) -> torch.Tensor:  # [batch, d_feat]
        ...

    def combine(self, outputs: Sequence[Output], weights: torch.Tensor) -> Any:  # weights: [batch, k]
        ...

    def loss(self, mixture: Any, challenge: Any) -> torch.Tensor:  # [batch], lower is better
        ...


class SubnetContract(MixtureSpec, Protocol):
    """Every member of a subnet spec that neurons read (subnets.spec.SubnetSpec provides them all)."""

    name: str                          # logs, `neuron subnet list`
    synapse: str                       # the route the miner attaches and the validator queries
    feature_dim: int                   # width of features(); the gate is built before the first challenge
    default_batch_size: int            # validator.batch_size unless configured
    timeout: float                     # dendrite.timeout_s unless configured
    hyperparameters: Mapping[str, Any]  # what `neuron demo` / `neuron subnet create` ask the chain for

    def validate_request(self, tensors: Mapping[str, Any]) -> dict[str, int]: ...  # miner: raises ValueError
    def validate_response(self, tensors: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, int]: ...
    def challenge(self, seed: int, batch_size: int) -> Any: ...  # .request: the tensors sent to miners
    def miners(self) -> Mapping[str, Callable[[int], Any]]: ...  # reference models: name -> factory(seed)
    def request_from_text(self, texts: list[str]) -> dict[str, torch.Tensor]: ...  # `neuron query`
    def render(self, mixture: Any, request: dict[str, torch.Tensor]) -> list[str]: ...
    def answer(self, mixture: Any) -> dict[str, torch.Tensor]: ...  # validator API: mixture -> wire tensors
    def from_answer(self, tensors: Mapping[str, Any], request: Mapping[str, Any]) -> Any: ...


# bounds on the plain values (checked where a type alone is not enough)
_POSITIVE = ("feature_dim", "default_batch_size", "timeout")


def contract_members() -> tuple[dict[str, Any], list[str]]:
    """(attribute name -> type, method names) of SubnetContract, read from its declaration above."""
    hints = typing.get_type_hints(SubnetContract)
    methods = sorted({n for cls in (SubnetContract, MixtureSpec) for n, v in vars(cls).items()
                      if callable(v) and not n.startswith("_")})
    return hints, methods


def contract_problems(spec: object) -> list[str]:
    """What `spec` (a class or an instance) lacks of SubnetContract; [] when it has everything."""
    hints, methods = contract_members()
    problems = []
    for name, want in hints.items():
        if not hasattr(spec, name):
            problems.append(f"missing attribute {name}")
            continue
        value, base = getattr(spec, name), typing.get_origin(want) or want
        if base is float:
            base = (int, float)
        if not isinstance(value, base) or isinstance(value, bool):
            problems.append(f"{name} is {value!r}, expected {getattr(want, '__name__', want)}")
        elif name in _POSITIVE and not value > 0:
            problems.append(f"{name} is {value!r}, expected > 0")
    problems += [f"missing method {m}()" for m in methods if not callable(getattr(spec, m, None))]
    for name, ok in (("batched_weights", lambda v: isinstance(v, bool)), ("null_loss", lambda v: v is None or callable(v))):
        if hasattr(spec, name) and not ok(getattr(spec, name)):
            problems.append(f"optional {name} is {getattr(spec, name)!r}")
    return problems


def check_contract(spec: object, ref: str) -> None:
    """Raise ContractError naming every problem of `spec` (loaded from `ref`)."""
    problems = contract_problems(spec)
    if problems:
        raise ContractError(f"subnet {ref!r} does not provide what neurons need: " + "; ".join(problems))


def valid_output(output: object) -> bool:
    """A response usable in the mixture: a mapping of tensors, floating ones all finite."""
    if not isinstance(output, Mapping) or not output:
        return False
    for t in output.values():
        if not isinstance(t, torch.Tensor):
            return False
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return False
    return True


def select_rows(spec: object, request: Mapping[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    """The request a miner routed to rows `index` [n] receives (the spec's `select`, or dim-0 slicing)."""
    fn = getattr(spec, "select", None)
    if fn is not None:
        return fn(request, index)
    return {k: v.index_select(0, index) for k, v in request.items()}


def place_rows(spec: object, response: Output, index: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
    """A sub-batch answer placed back into the full batch (the spec's `place`, or dim-0 scatter, zeros elsewhere)."""
    fn = getattr(spec, "place", None)
    if fn is not None:
        return fn(response, index, batch_size)
    out = {}
    for k, v in response.items():
        full = v.new_zeros((batch_size, *v.shape[1:]))
        full[index] = v
        out[k] = full
    return out
