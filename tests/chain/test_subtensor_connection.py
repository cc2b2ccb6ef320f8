"""Dropped and stale websockets, and threads sharing one connection, against the real runtime.

A real TCP proxy on 127.0.0.1 sits between the backend and Chopsticks; the tests cut its
connections, stall them (bytes stop flowing, the socket stays open) or shut it down.
"""
from __future__ import annotations

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
