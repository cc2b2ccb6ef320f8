"""Per-synapse routes and what their hooks see.

Hooks are declared once with `Axon.attach` and checked there (each takes exactly one
argument); each may be a plain or an async function:

- ``blacklist(caller: Caller) -> bool | (bool, reason)`` — True rejects with BLACKLISTED.
- ``priority(caller: Caller) -> float`` — higher is served first (default: the caller's stake).
- ``verify(call: Call) -> bool | None`` — False rejects with INVALID_REQUEST.
- ``forward(call: Call) -> Mapping[str, tensor] | Reply | bytes`` — the handler; sync
  handlers run in the axon's bounded thread pool, async ones on the event loop.

Any hook may raise `Reject(code, message)` to answer with that code; any other exception
answers SERVER_ERROR for that request only.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from protocol.codes import ReturnCode
from protocol.envelope import caller_key


@dataclass(frozen=True)
class CallerInfo:
    """What the metagraph says about a caller hotkey."""
    uid: int
    stake: float
    validator_permit: bool = False


@dataclass(frozen=True)
class Caller:
    """The (claimed, until the signature check) caller of one request."""
    hotkey: str
    info: CallerInfo
    synapse: str

    @property
    def stake(self) -> float:
        return self.info.stake

    @property
    def key(self) -> bytes:
        """Who this is for every per-caller decision: the hotkey's public key. The axon builds a Caller
        only for canonical addresses; a hand-made one with another string is keyed by that string."""
        return caller_key(self.hotkey) or self.hotkey.encode()


@dataclass
class Call:
    """One authenticated request as the handler sees it."""
    caller: Caller
    tensors: dict[str, Any]          # name -> torch.Tensor (decoded, validated)
    fields: dict[str, str]
    request_uuid: str
    deadline: float                  # loop.time() by which the answer is due


@dataclass
class Reply:
    """A handler's answer when it carries fields besides tensors."""
    tensors: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)


class Reject(Exception):
    """Raised by a hook or handler to answer with a specific return code."""

    def __init__(self, code: ReturnCode, message: str = ""):
        super().__init__(message or code.name)
        self.code, self.message = ReturnCode(code), message or code.name


def _is_async(fn: Callable) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


def check_hook(synapse: str, name: str, fn: Callable | None, *, required: bool = False) -> None:
    """Raise TypeError now unless `fn` can be called with exactly one positional argument."""
    if fn is None:
        if required:
            raise TypeError(f"synapse {synapse!r}: a {name} function is required")
        return
    if not callable(fn):
        raise TypeError(f"synapse {synapse!r}: {name} must be callable, got {type(fn).__name__}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # some builtins have no signature; nothing more to check
    try:
        sig.bind(object())
    except TypeError:
        raise TypeError(
            f"synapse {synapse!r}: {name} hook {getattr(fn, '__qualname__', fn)!r} must take exactly "
            f"one argument, but its signature is {sig}") from None


@dataclass(frozen=True)
class Route:
    synapse: str
    forward: Callable
    blacklist: Callable | None = None
    priority: Callable | None = None
    verify: Callable | None = None

    forward_is_async: bool = field(init=False)

    def __post_init__(self):
        if not self.synapse or len(self.synapse) > 128:
            raise ValueError("synapse name must be 1..128 characters")
        check_hook(self.synapse, "forward", self.forward, required=True)
        for name in ("blacklist", "priority", "verify"):
            check_hook(self.synapse, name, getattr(self, name))
        object.__setattr__(self, "forward_is_async", _is_async(self.forward))


async def call_hook(fn: Callable, arg: Any) -> Any:
    """Call a sync or async hook on the event loop (hooks other than forward must be cheap)."""
    out = fn(arg)
    return await out if inspect.isawaitable(out) else out
