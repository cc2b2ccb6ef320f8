"""The chain connection dropped and the chain endpoint restarted, on the real subtensor runtime.

A weight submission travels through ChainProxy (proxy.py) to the spec-148 runtime under Chopsticks
(tests/chain/localnet_fixture.py; skips with what to install when absent). The proxy cuts the
connection right after the node reported the extrinsic in a block (the client never hears it), or
takes the endpoint down and back up while the submission waits. Each time the client reconnects with
backoff, re-sends the same signed bytes once, and the weights land exactly once: the account nonce
moves by one and LastUpdate by one submission.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "chain"))
from localnet_fixture import local_chain  # noqa: E402,F401  (pytest fixture)
from substrateinterface import Keypair  # noqa: E402

from chain.errors import ChainConnectionError  # noqa: E402
from chain.subtensor import SubtensorChain  # noqa: E402
from tcp_proxy import ChainProxy  # noqa: E402

pytestmark = pytest.mark.localnet


@pytest.fixture
def setup(local_chain):
    """(chain, netuid, hotkey, uid, proxy): a hotkey registered on a fresh subnet, with fees paid for."""
    alice = Keypair.create_from_uri("//Alice")
    hotkey = Keypair.create_from_uri("//ReliabilityValidator")
    netuid = local_chain.create_subnet(alice)
    local_chain.transfer(alice, hotkey.ss58_address, 100 * 10**9)
    uid = local_chain.register(netuid, hotkey.ss58_address, alice)
    proxy = ChainProxy(int(local_chain.url.rsplit(":", 1)[1]))
    try:
        yield local_chain, netuid, hotkey, uid, proxy
    finally:
        proxy.down()


def _nonce(chain, ss58: str) -> int:
    return int(chain.query("Account", [ss58], pallet="System")["nonce"])


def _last_update(chain, netuid: int, uid: int) -> int:
    return int(chain.metagraph(netuid).last_update[uid])


def test_cut_after_inclusion_is_retried_once_and_lands_once(setup):
    chain, netuid, hotkey, uid, proxy = setup
    client = SubtensorChain(proxy.url, timeout=5, attempts=5, base_delay=0.1)
    nonce, before = _nonce(chain, hotkey.ss58_address), _last_update(chain, netuid, uid)
    proxy.cut_when_node_says(b'"inBlock"')
    client.set_weights(netuid, hotkey, [uid], [65535])      # the answer is lost; the retry must settle it
    assert proxy.accepted == 2                                # one reconnect
    assert _nonce(chain, hotkey.ss58_address) == nonce + 1    # executed exactly once
    assert _last_update(chain, netuid, uid) > before          # and not lost
    client.close()


def test_chain_down_then_back_the_pending_submission_goes_through_once(setup):
    chain, netuid, hotkey, uid, proxy = setup
    client = SubtensorChain(proxy.url, timeout=5, attempts=6, base_delay=0.1)   # waits up to 3.1 s in all
    nonce, before = _nonce(chain, hotkey.ss58_address), _last_update(chain, netuid, uid)
    proxy.down()
    threading.Timer(1.0, proxy.up).start()                   # the chain restarts on the same port
    client.set_weights(netuid, hotkey, [uid], [65535])
    assert _nonce(chain, hotkey.ss58_address) == nonce + 1
    assert _last_update(chain, netuid, uid) > before
    client.close()


def test_chain_down_past_the_retry_budget_is_a_typed_error_and_nothing_is_sent(setup):
    chain, netuid, hotkey, uid, proxy = setup
    client = SubtensorChain(proxy.url, timeout=2, attempts=3, base_delay=0.1)
    nonce = _nonce(chain, hotkey.ss58_address)
    proxy.down()
    with pytest.raises(ChainConnectionError) as e:
        client.set_weights(netuid, hotkey, [uid], [65535])
    assert e.value.hint
    proxy.up()
    assert _nonce(chain, hotkey.ss58_address) == nonce       # nothing went out while it was down
    client.set_weights(netuid, hotkey, [uid], [65535])        # the same client recovers
    assert _nonce(chain, hotkey.ss58_address) == nonce + 1
    client.close()
