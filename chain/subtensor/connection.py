"""`Connection`: one websocket to a subtensor node, shared safely between threads.

Every use of the socket goes through `run(fn)`, which holds a lock (no two threads ever `recv` on
the same socket) and retries with backoff after reconnecting when the socket dropped or went stale
(no answer within `timeout` seconds).
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Callable, TypeVar

from substrateinterface import SubstrateInterface
from websocket import WebSocketException

from chain.errors import ChainConnectionError
from chain.subtensor.retry import retry

log = logging.getLogger(__name__)
T = TypeVar("T")

#: errors that mean "the socket is gone, stale or garbled" (bytes that are not UTF-8 JSON: the
#: socket skips websocket-client's own UTF-8 check): reconnect and try again
TRANSIENT = (WebSocketException, OSError, UnicodeDecodeError, json.JSONDecodeError)


def _unreachable(url: str):
    def make(exc: BaseException) -> ChainConnectionError:
        return ChainConnectionError(f"chain at {url} unreachable: {type(exc).__name__}: {exc}",
                                    hint="check the URL and that the node is running "
                                         "(for the local chain: `neuron localnet status`)")
    return make


class MetadataCache:
    """substrate-interface's `cache_region`: runtime metadata decoded once per process for each chain
    (genesis hash) and runtime version, shared by every later connection (decoding takes ~1 s)."""
    _decoded: dict[tuple[str, str], object] = {}

    def __init__(self, genesis_hash: str):
        self.genesis_hash = genesis_hash

    def get(self, key: str):
        return self._decoded.get((self.genesis_hash, key))

    def set(self, key: str, metadata) -> None:
        self._decoded[(self.genesis_hash, key)] = metadata


class Connection:
    def __init__(self, url: str, *, timeout: float = 60.0, attempts: int = 5, base_delay: float = 0.25):
        self.url = url
        self.timeout = timeout
        self._lock = threading.RLock()
        self._substrate: SubstrateInterface | None = None
        policy = retry(retry_on=TRANSIENT, attempts=attempts, base_delay=base_delay,
                       before_retry=lambda *a, **k: self.reconnect(), give_up=_unreachable(url))
        self._run = policy(self._run_once)
        policy(self._open)()

    def _open(self) -> None:
        # websocket-client checks UTF-8 in pure Python (0.1 s per MB); json decoding checks it again in C
        s = SubstrateInterface(url=self.url, ss58_format=42, auto_reconnect=False,
                               ws_options={"timeout": self.timeout, "skip_utf8_validation": True})
        s.cache_region = MetadataCache(s.rpc_request("chain_getBlockHash", [0])["result"])
        s.init_runtime()
        self._substrate = s
        log.debug("connected to %s (spec %s)", self.url, s.runtime_version)

    def reconnect(self) -> None:
        """Open a fresh websocket on the same SubstrateInterface (keeps its metadata)."""
        with self._lock:
            log.info("reconnecting to %s", self.url)
            if self._substrate is None:
                self._open()
                return
            self._drop_socket()
            self._substrate.connect_websocket()

    def _drop_socket(self) -> None:
        """Shut the socket down without the close handshake (which would wait on a stale peer)."""
        ws = getattr(getattr(self._substrate, "transport", None), "websocket", None)
        if ws is not None:
            try:
                ws.shutdown()
            except TRANSIENT:
                pass

    def _run_once(self, fn: Callable[[SubstrateInterface], T]) -> T:
        with self._lock:
            return fn(self._substrate)

    def run(self, fn: Callable[[SubstrateInterface], T]) -> T:
        """Run fn(substrate) under the lock; reconnect and retry on a dropped or stale socket."""
        return self._run(fn)

    @property
    def substrate(self) -> SubstrateInterface:
        """The interface for metadata-only work (no socket use); use `run` for anything that talks."""
        return self._substrate

    def close(self) -> None:
        with self._lock:
            if self._substrate is not None:
                try:
                    self._substrate.close()
                except TRANSIENT:
                    pass
