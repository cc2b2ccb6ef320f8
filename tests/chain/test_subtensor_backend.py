"""The subtensor backend against the real spec-148 runtime (Chopsticks): the subnet life cycle,
an epoch on chain read back through the metagraph, and the typed errors of real rejections."""
from __future__ import annotations

import numpy as np
import pytest
from localnet_fixture import local_chain  # noqa: F401  (pytest fixture)
from substrateinterface import Keypair

from chain.errors import (BalanceError, ExtrinsicError, NotRegisteredError, PermissionError_, RateLimitError,
                          UnsupportedError)
from chain.types import RAO_PER_TAO, AxonInfo

pytestmark = pytest.mark.localnet
K = Keypair.create_from_uri
ALICE, BOB, CHARLIE, DAVE, EVE = (K(f"//{n}") for n in ("Alice", "Bob", "Charlie", "Dave", "Eve"))


def hot(name: str) -> Keypair:
    return K(f"//{name}Hot")


def test_subnet_life_cycle(local_chain):
    c = local_chain
    assert c.yuma_variant == "spec148"
    netuid = c.create_subnet(ALICE)
    assert netuid in c.subnets()
    assert c.hyperparameters(netuid).tempo == 10 and c.hyperparameters(netuid).weights_rate_limit == 0

    uid = c.register(netuid, hot("Bob").ss58_address, BOB)
    assert uid == 0 and c.register(netuid, hot("Bob").ss58_address, BOB) == 0  # idempotent
    assert c.uid(netuid, hot("Bob").ss58_address) == 0 and c.uid(netuid, hot("Eve").ss58_address) is None
    c.serve_axon(netuid, hot("Bob"), "127.0.0.2", 8091, protocol=4, version=3)

    before = c.balance(BOB.ss58_address)
    c.add_stake(BOB, hot("Bob").ss58_address, 1000 * RAO_PER_TAO)
    assert c.stake(hot("Bob").ss58_address) == 1000 * RAO_PER_TAO
    assert c.stake(hot("Bob").ss58_address, BOB.ss58_address) == 1000 * RAO_PER_TAO
    assert before - c.balance(BOB.ss58_address) >= 1000 * RAO_PER_TAO
    c.remove_stake(BOB, hot("Bob").ss58_address, 400 * RAO_PER_TAO)
    assert c.stake(hot("Bob").ss58_address) == 600 * RAO_PER_TAO

    c.set_hyperparameter(netuid, "max_allowed_validators", 5, ALICE)
    assert c.hyperparameters(netuid).max_allowed_validators == 5

    m = c.metagraph(netuid)
    assert m.n == 1 and m.hotkeys == [hot("Bob").ss58_address] and m.coldkeys == [BOB.ss58_address]
    assert m.stake.tolist() == [600.0]
    assert m.axons[0] == AxonInfo("127.0.0.2", 8091, 4, 3)
    assert 0 < m.block_at_registration[0] <= m.block == c.block()


def test_epoch_results_read_back(local_chain):
    c = local_chain
    netuid = c.create_subnet(ALICE)
    names = ["Bob", "Charlie", "Dave", "Eve"]
    for ck, name in zip((BOB, CHARLIE, DAVE, EVE), names):
        c.register(netuid, hot(name).ss58_address, ck)
    c.add_stake(BOB, hot("Bob").ss58_address, 1000 * RAO_PER_TAO)
    c.add_stake(CHARLIE, hot("Charlie").ss58_address, 300 * RAO_PER_TAO)
    c.advance_blocks(c.tempo + 2)                      # one epoch hands out validator permits
    c.set_weights(netuid, hot("Bob"), [2, 3], [60000, 5535])
    c.set_weights(netuid, hot("Charlie"), [2, 3], [30000, 35535])
    c.advance_blocks(2 * (c.tempo + 1))

    m = c.metagraph(netuid)
    assert m.validator_permit.all()                    # spec 148: n < max validators -> everyone
    assert m.weights[0].tolist() == [0, 0, 65535, round(5535 * 65535 / 60000)]  # stored max-upscaled
    assert m.incentive[2] > m.incentive[3] > 0 and m.incentive[:2].sum() == 0
    assert m.dividends[0] > m.dividends[1] > 0 and m.dividends[2:].sum() == 0
    assert m.consensus[2] > 0 and m.bonds[0, 2] > 0
    assert m.emission.sum() > 0                        # root weights give the subnet emission
    assert np.isclose(m.incentive.sum(), 1, atol=1e-3) and np.isclose(m.dividends.sum(), 1, atol=1e-3)
    old = c.metagraph(netuid, block=m.block - 2 * (c.tempo + 1))
    assert old.block == m.block - 2 * (c.tempo + 1) and old.incentive.sum() == 0


def test_runtime_rejections_are_typed(local_chain):
    c = local_chain
    netuid = c.create_subnet(ALICE)
    c.register(netuid, hot("Bob").ss58_address, BOB)
    with pytest.raises(ExtrinsicError) as e:
        c.serve_axon(netuid, hot("Bob"), "127.0.0.1", 8091)
    assert e.value.name == "InvalidIpAddress" and "127.0.0.2" in e.value.hint
    with pytest.raises(ExtrinsicError) as e:            # sudo "succeeds"; the Sudid event carries the error
        c.submit("AdminUtils", "sudo_set_tempo", {"netuid": 77, "tempo": 5}, ALICE, sudo=True)
    assert e.value.name == "NetworkDoesNotExist"
    with pytest.raises(PermissionError_) as e:
        c.set_hyperparameter(netuid, "tempo", 20, BOB)
    assert e.value.name == "BadOrigin"
    with pytest.raises(NotRegisteredError):
        c.set_weights(netuid, hot("Eve"), [0], [65535])
    with pytest.raises(BalanceError) as e:
        c.remove_stake(BOB, hot("Bob").ss58_address, 10 * RAO_PER_TAO)
    assert e.value.name == "NotEnoughStaketoWithdraw"  # the runtime's own spelling
    with pytest.raises(UnsupportedError):
        c.commit_weights(netuid, hot("Bob"), [0], [1], [42])
    c.set_weights(netuid, hot("Bob"), [0], [65535])     # self-weight needs no permit
    c.set_hyperparameter(netuid, "weights_rate_limit", 100, ALICE)
    with pytest.raises(RateLimitError) as e:
        c.set_weights(netuid, hot("Bob"), [0], [65535])
    assert e.value.name == "SettingWeightsTooFast"


def test_metagraph_rpc_calls_do_not_grow_with_uids(local_chain):
    c = local_chain
    netuid = c.create_subnet(ALICE)
    substrate = c._conn.substrate
    real = substrate.rpc_request
    calls = []

    def counting(method, params, *a, **k):              # instrumentation of the real client
        calls.append(method)
        return real(method, params, *a, **k)

    def count_reads() -> int:
        calls.clear()
        substrate.rpc_request = counting
        try:
            c.metagraph(netuid)
        finally:
            substrate.rpc_request = real
        return len(calls)

    for i in range(3):
        c.register(netuid, hot(f"u{i}").ss58_address, BOB)
    small = count_reads()
    for i in range(3, 13):
        c.register(netuid, hot(f"u{i}").ss58_address, BOB)
    assert c.metagraph(netuid).n == 13
    assert count_reads() == small <= 8
