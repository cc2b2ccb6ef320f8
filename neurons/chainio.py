"""The one place a serving neuron's chain calls run: one worker thread, off the event loop.

A chain call can take seconds (a public node far away; `set_weights` waits for inclusion, about
12 s). Made on the event loop, it would stall every request the neuron serves meanwhile. So the
validator's step (metagraph refresh, block, hyperparameters, weights) and the miner's metagraph
refresh go through `ChainIO.run`, which runs them one at a time on its own thread; the loop only
awaits the result, and readers of the metagraph see the previous one until the swap.

    io = ChainIO(timeout_s=cfg.chain.call_timeout_s)
    mg = await io.run(sync.refresh)            # ChainTimeout after timeout_s

One thread keeps the calls in order (what the chain clients expect) and bounds what waits: at
most `max_waiting` calls queue behind the running one; more are refused at once.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from chain.errors import ChainConnectionError

log = logging.getLogger("opensubnet.chainio")


class ChainTimeout(ChainConnectionError):
    """A chain call took longer than allowed (it may still finish on the worker thread)."""


class ChainIO:
    def __init__(self, timeout_s: float = 60.0, *, max_waiting: int = 8, name: str = "chain-io"):
        if timeout_s <= 0 or max_waiting < 1:
            raise ValueError("timeout_s must be > 0 and max_waiting >= 1")
        self.timeout_s, self.max_waiting = timeout_s, max_waiting
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._queued = 0   # calls submitted and not finished (the running one included)
        self.calls = 0

    async def run(self, fn: Callable, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) on the chain thread; its result or its exception, or ChainTimeout."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        if self._queued > self.max_waiting:
            raise ChainTimeout(f"{self._queued} chain calls are already waiting; {_name(fn)} not sent",
                               hint="the chain endpoint is slow or unreachable; check chain.url")
        loop = asyncio.get_running_loop()
        self._queued += 1
        self.calls += 1
        fut = loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        fut.add_done_callback(self._done)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), limit)
        except TimeoutError:
            log.warning("chain call %s took over %.0f s; giving up on it", _name(fn), limit)
            raise ChainTimeout(f"chain call {_name(fn)} took over {limit:g} s",
                               hint="the chain endpoint is slow or unreachable; check chain.url or raise "
                                    "chain.call_timeout_s") from None

    def _done(self, fut) -> None:
        self._queued -= 1
        if not fut.cancelled():
            fut.exception()  # retrieved here: a call given up on must not log "never retrieved"

    def close(self) -> None:
        """Stop taking calls; a call still running finishes on its thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__
