"""Dropped and stale websockets, and threads sharing one connection, against the real runtime.

A real TCP proxy on 127.0.0.1 sits between the backend and Chopsticks; the tests cut its
connections, stall them (bytes stop flowing, the socket stays open) or shut it down.
"""
from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from localnet_fixture import local_chain  # noqa: F401  (pytest fixture)

from chain.errors import ChainConnectionError
from chain.subtensor import SubtensorChain

pytestmark = pytest.mark.localnet


class TcpProxy:
    """Forwards 127.0.0.1:port to `target`; can cut, stall or refuse connections."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._stalled: set = set()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.accepted += 1
            self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(65536):
                if (src, dst) in self._stalled:
                    continue                  # swallow: the peer never hears back
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        """Close every open connection (a dropped websocket)."""
        for a, b in self._pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._pairs.clear()

    def stall(self):
        """Open connections stop delivering (a stale websocket); new ones work."""
        self._stalled = {p for a, b in self._pairs for p in ((a, b), (b, a))}

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self.cut()


@pytest.fixture
def proxy(local_chain):
    p = TcpProxy(urlparse(local_chain.url).port)
    yield p
    p.close()


def test_reconnects_after_the_socket_is_dropped(proxy, local_chain):
    c = SubtensorChain(f"ws://127.0.0.1:{proxy.port}", timeout=5, base_delay=0.05)
    head = c.block()
    proxy.cut()
    assert c.block() == head and c.subnets() == local_chain.subnets()
    assert proxy.accepted == 2


def test_reconnects_when_the_socket_goes_stale(proxy):
    c = SubtensorChain(f"ws://127.0.0.1:{proxy.port}", timeout=1.0, base_delay=0.05)
    head = c.block()
    proxy.stall()
    assert c.block() == head                     # ~1 s timeout, then a fresh socket
    assert proxy.accepted == 2


def test_unreachable_chain_is_a_typed_error(proxy):
    c = SubtensorChain(f"ws://127.0.0.1:{proxy.port}", timeout=1.0, attempts=2, base_delay=0.05)
    proxy.close()
    with pytest.raises(ChainConnectionError) as e:
        c.block()
    assert "localnet status" in e.value.hint


def test_threads_share_one_connection_safely(local_chain):
    c = local_chain
    head, subnets = c.block(), c.subnets()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: (c.block(), c.subnets()) if i % 2 else (head, c.subnets()), range(64)))
    assert results == [(head, subnets)] * 64
