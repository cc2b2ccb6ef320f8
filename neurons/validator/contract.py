"""What the validator needs from a subnet spec (duck-typed; neurons never import subnets)."""
from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import torch

Output = Mapping[str, torch.Tensor]  # one miner's decoded response


@runtime_checkable
class MixtureSpec(Protocol):
    """The three calls the gate and the scorer make on a subnet spec.

    Optional extras, found with getattr:
      - ``null_loss(challenge) -> [batch]``: the loss when no miner answers (e.g. a uniform
        prediction); lets a lone responder and sampled Shapley's first position be scored.
      - ``batched_weights = True``: ``combine`` accepts weights ``[m, batch, k]`` (a zero weight
        meaning "left out") and ``loss`` then returns ``[m, batch]``; scoring then evaluates all
        coalitions in one call instead of a loop.
    """

    def features(self, challenge: Any) -> torch.Tensor:  # [batch, d_feat]
        ...

    def combine(self, outputs: Sequence[Output], weights: torch.Tensor) -> Any:  # weights: [batch, k]
        ...

    def loss(self, mixture: Any, challenge: Any) -> torch.Tensor:  # [batch], lower is better
        ...


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
