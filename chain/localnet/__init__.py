"""The local real-runtime chain: the subtensor runtime from a raw chain spec, executed by
Chopsticks on 127.0.0.1, dev accounts funded, practical limits set through real sudo calls.

`connect_local("local")` starts it in the background when it is not running (it keeps running
for other processes until `neuron localnet stop`); `connect_local("local:PORT")` attaches to a
Chopsticks already listening on that port.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from chain.errors import ChainError
from chain.localnet import process
from chain.localnet.bootstrap import relax_chain
from chain.localnet.local import LocalChain
from chain.localnet.process import LocalnetStatus, status
from chain.localnet.spec import DEFAULT_RUNTIME

log = logging.getLogger(__name__)
__all__ = ["LocalChain", "LocalnetStatus", "connect_local", "start", "status", "stop"]


def start(chain_spec: str | os.PathLike | None = None, port: int | None = None, *,
          state_dir: Path | None = None, install: bool = True, runtime: int = DEFAULT_RUNTIME) -> LocalnetStatus:
    """Start Chopsticks (if not running) and, on a fresh chain, relax its limits with sudo."""
    st, started = process.start(chain_spec, port, state_dir=state_dir, install=install, runtime=runtime)
    if started:
        try:
            with LocalChain(st.url) as chain:
                relax_chain(chain)
        except Exception:
            process.stop(state_dir)
            raise
    return st


def stop(state_dir: Path | None = None) -> bool:
    return process.stop(state_dir)


def connect_local(url: str = "local", *, chain_spec: str | os.PathLike | None = None,
                  state_dir: Path | None = None, **kwargs) -> LocalChain:
    if url.startswith("local:"):
        port = url[len("local:"):]
        if not port.isdigit():
            raise ChainError(f"bad local chain url {url!r}", hint="use `local` or `local:PORT`")
        return LocalChain(f"ws://127.0.0.1:{port}", **kwargs)
    st = status(state_dir)
    if not st.running:
        log.info("local chain not running: starting it")
        st = start(chain_spec, state_dir=state_dir)
    return LocalChain(st.url, **kwargs)
