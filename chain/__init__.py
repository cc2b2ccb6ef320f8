"""The chain interface and its backends.

`connect(url)`:
  ws://… or wss://…   → subtensor over substrate-interface (public network or any node)
  local               → start (or attach to) the local real-runtime chain under Chopsticks
  dev:PATH | dev:     → the in-process dev ledger persisted in SQLite (temp file for `dev:`); a new
                        one makes a block every DEFAULT_BLOCK_TIME s (chain/dev/ledger.py) unless
                        ?block_time=S says otherwise (0: a block per extrinsic)
"""
from __future__ import annotations

from chain.base import Chain
from chain.errors import ChainError
from chain.types import AxonInfo, Hyperparameters, Metagraph, RAO_PER_TAO

__all__ = ["Chain", "ChainError", "AxonInfo", "Hyperparameters", "Metagraph", "RAO_PER_TAO", "connect"]


def connect(url: str, **kwargs) -> Chain:
    if url.startswith(("ws://", "wss://")):
        from chain.subtensor import SubtensorChain
        return SubtensorChain(url, **kwargs)
    if url == "local" or url.startswith("local:"):
        from chain.localnet import connect_local
        return connect_local(url, **kwargs)
    if url.startswith("dev:"):
        from chain.dev import DevChain
        from chain.dev.ledger import DEFAULT_BLOCK_TIME
        return DevChain(url[len("dev:"):] or None, new_block_time=DEFAULT_BLOCK_TIME, **kwargs)
    raise ChainError(f"unknown chain url {url!r}",
                     hint="use ws://HOST:PORT, wss://…, `local` (local runtime) or dev:PATH (dev ledger)")
