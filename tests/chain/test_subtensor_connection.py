"""Dropped and stale websockets, and threads sharing one connection, against the real runtime.

A real TCP proxy on 127.0.0.1 sits between the backend and Chopsticks; the tests cut its
connections, stall them (bytes stop flowing, the socket stays open) or shut it down.
"""
from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from localnet_fixture import local_chain  # noqa: F401  (pytest fixture)

from chain.errors import ChainConnectionError
from chain.subtensor import SubtensorChain
from tcp_proxy import ChainProxy

pytestmark = pytest.mark.localnet


@pytest.fixture
def proxy(local_chain):
    p = ChainProxy(urlparse(local_chain.url).port)
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


def test_a_second_connection_reuses_the_decoded_metadata(local_chain):
    other = SubtensorChain(local_chain.url)
    try:
        assert other._conn.substrate.metadata is local_chain._conn.substrate.metadata   # not decoded again
        assert other.subnets() == local_chain.subnets() and other.shape.spec_version == local_chain.shape.spec_version
    finally:
        other.close()


def test_metadata_is_shared_only_within_one_chain():
    from chain.subtensor.connection import MetadataCache

    MetadataCache("0x" + "aa" * 32).set("METADATA_7", "decoded")
    assert MetadataCache("0x" + "aa" * 32).get("METADATA_7") == "decoded"
    assert MetadataCache("0x" + "bb" * 32).get("METADATA_7") is None          # another genesis
    assert MetadataCache("0x" + "aa" * 32).get("METADATA_8") is None          # another runtime version


def garbling_node() -> tuple[socket.socket, int]:
    """A loopback websocket 'node' that answers every request with a text frame that is not UTF-8."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer(conn: socket.socket):
        with conn:
            request = conn.recv(65536)
            key = re.search(rb"Sec-WebSocket-Key: (\S+)", request, re.I).group(1)
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            while conn.recv(65536):                       # each request frame: an answer of bad bytes
                conn.sendall(bytes([0x81, 4]) + b"\xff\xfe\xfd\xfc")

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_a_node_sending_bytes_that_are_not_utf8_is_a_typed_error():
    server, port = garbling_node()
    try:
        with pytest.raises(ChainConnectionError, match="UnicodeDecodeError"):
            SubtensorChain(f"ws://127.0.0.1:{port}", timeout=2, attempts=2, base_delay=0.01)
    finally:
        server.close()
