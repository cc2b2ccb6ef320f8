"""One behaviour, every backend: the same operations give the same observable results and the same
typed errors on the dev ledger and on the local real runtimes (spec 148 and the dTAO spec 293 under
Chopsticks).

Only `Chain` interface methods are used. Hotkeys get a little TAO first because on a real chain the
account that signs an extrinsic must exist. Runtime differences are stated, not special-cased by
backend: a dTAO subnet starts with its owner's hotkey at uid 0, so registrations count from the
subnet's `n` after creation; stake is per subnet (every stake call passes the netuid, which the dev
ledger and spec 148 ignore) and on dTAO it is alpha bought at the pool price, not the TAO spent.
"""
from __future__ import annotations

import numpy as np
import pytest
from substrateinterface import Keypair

from chain.errors import (BalanceError, ChainError, ExtrinsicError, NotRegisteredError, PermissionError_,
                          RateLimitError, UnsupportedError, WeightsError)
from chain.types import RAO_PER_TAO as TAO
from chain.types import AxonInfo
from chain.weights import (call_from_metagraph, explain_weights_rejection, same_refusal, scores_to_u16,
                           weights_violation)

K = Keypair.create_from_uri
ALICE, BOB, CHARLIE, DAVE, EVE = (K(f"//{n}") for n in ("Alice", "Bob", "Charlie", "Dave", "Eve"))
FEE_TOLERANCE = TAO // 100  # a real chain may charge transaction fees


def hot(name: str) -> Keypair:
    return K(f"//{name}Hot")


def fund(chain, *keys: Keypair) -> None:
    for key in keys:
        chain.transfer(ALICE, key.ss58_address, TAO)


def new_subnet(chain, owner: Keypair = ALICE, **hparams) -> int:
    """A new subnet with these hyperparameters; direct weights (commit-reveal off) unless asked,
    where the runtime has commit-reveal at all."""
    netuid = chain.create_subnet(owner)
    if chain.hyperparameters(netuid).commit_reveal_enabled:
        hparams = {"commit_reveal_enabled": False, **hparams}
    chain.set_hyperparameters(netuid, hparams, ALICE)
    return netuid


def register(chain, netuid: int, *names: str) -> list[int]:
    return [chain.register(netuid, hot(n).ss58_address, K(f"//{n}")) for n in names]


def first_uid(chain, netuid: int) -> int:
    """The uid the next registration gets on a fresh subnet: 0, or 1 where the runtime registers the
    owner's hotkey when the subnet is created (dTAO)."""
    return chain.metagraph(netuid).n


def stakes_per_subnet(chain) -> bool:
    """The runtime keeps stake per subnet as alpha (dTAO), as its metadata says (`shape`); the dev
    ledger has no such shape: one TAO stake per hotkey, staked by its own coldkey only."""
    shape = getattr(chain, "shape", None)
    return bool(shape is not None and shape.stakes_per_subnet)


def to_next_epoch(chain, netuid: int) -> int:
    """Build blocks up to and including the next epoch block: (B + netuid + 2) % (tempo + 1) == 0."""
    tempo = chain.hyperparameters(netuid).tempo
    head = chain.block()
    target = head + 1 + (-(netuid + 2) - (head + 1)) % (tempo + 1)
    return chain.advance_blocks(target - head)


def test_create_subnet(chain_backend):
    c = chain_backend
    before = set(c.subnets())
    netuid = c.create_subnet(BOB)
    assert netuid not in before and netuid in c.subnets()
    assert c.hyperparameters(netuid).max_allowed_uids > 0
    mg = c.metagraph(netuid)
    assert mg.netuid == netuid and mg.weights.shape == (mg.n, mg.n)
    # empty, or (dTAO) only the owner's hotkey (create_subnet's default hotkey: the owner's key)
    assert (mg.hotkeys, mg.coldkeys) in (([], []), ([BOB.ss58_address], [BOB.ss58_address]))


def test_register_uids_in_order_idempotent_and_errors(chain_backend):
    c = chain_backend
    netuid = new_subnet(c, tempo=10)
    f = first_uid(c, netuid)
    assert register(c, netuid, "Bob", "Charlie", "Dave") == [f, f + 1, f + 2]
    assert c.register(netuid, hot("Charlie").ss58_address, CHARLIE) == f + 1  # idempotent
    assert c.uid(netuid, hot("Dave").ss58_address) == f + 2 and c.uid(netuid, hot("Eve").ss58_address) is None
    before = c.balance(EVE.ss58_address)
    assert register(c, netuid, "Eve") == [f + 3]
    assert c.balance(EVE.ss58_address) < before                                 # the burn
    mg = c.metagraph(netuid)
    assert mg.n == f + 4 and list(mg.uids) == list(range(f + 4))
    assert mg.hotkeys[f:] == [hot(n).ss58_address for n in ("Bob", "Charlie", "Dave", "Eve")]
    assert mg.coldkeys[f:] == [K(f"//{n}").ss58_address for n in ("Bob", "Charlie", "Dave", "Eve")]
    assert np.all(np.diff(mg.block_at_registration[f:]) > 0) and mg.block_at_registration[-1] <= mg.block

    other = c.create_subnet(ALICE)
    with pytest.raises(PermissionError_):                    # Bob's hotkey belongs to Bob's coldkey
        c.register(other, hot("Bob").ss58_address, EVE)
    with pytest.raises(ExtrinsicError) as err:
        c.register(60000, hot("Eve").ss58_address, EVE)
    assert err.value.name == "SubNetworkDoesNotExist"


def test_serve_axon(chain_backend):
    c = chain_backend
    netuid = new_subnet(c, serving_rate_limit=0)
    dave, = register(c, netuid, "Dave")
    fund(c, hot("Dave"), hot("Eve"))
    c.serve_axon(netuid, hot("Dave"), "127.0.0.2", 8091, version=3)
    axon = c.metagraph(netuid).axons[dave]
    assert axon == AxonInfo("127.0.0.2", 8091, 4, 3) and axon.serving
    with pytest.raises(ExtrinsicError) as err:              # the runtime rejects exactly 127.0.0.1
        c.serve_axon(netuid, hot("Dave"), "127.0.0.1", 8091)
    assert err.value.name == "InvalidIpAddress"
    with pytest.raises(NotRegisteredError):
        c.serve_axon(netuid, hot("Eve"), "127.0.0.2", 8092)
    c.set_hyperparameter(netuid, "serving_rate_limit", 50, ALICE)
    with pytest.raises(RateLimitError):
        c.serve_axon(netuid, hot("Dave"), "127.0.0.3", 8093)
    assert c.metagraph(netuid).axons[dave].port == 8091


def test_stake_unstake_and_balances(chain_backend):
    """Stake is TAO on the dev ledger and spec 148, alpha bought from the subnet's pool on dTAO: the
    TAO moves exactly, the stake is whatever it bought, and selling part of it pays between the
    pool's price after and before the sale (exactly the amount where stake is TAO)."""
    c = chain_backend
    netuid = new_subnet(c, tempo=1000)                      # no epoch (no emission into the stake) in this test
    bob, = register(c, netuid, "Bob")
    bob_hot = hot("Bob").ss58_address
    before = c.balance(BOB.ss58_address)
    c.add_stake(BOB, bob_hot, 100 * TAO, netuid)
    staked = c.stake(bob_hot, netuid=netuid)
    assert staked > 0 and c.stake(bob_hot, BOB.ss58_address, netuid) == staked     # Bob holds all of it
    assert 0 <= before - c.balance(BOB.ss58_address) - 100 * TAO < FEE_TOLERANCE  # the TAO spent
    price_before = c.stake_value(bob_hot, BOB.ss58_address, netuid) / staked       # TAO per unit of stake
    paid = c.balance(BOB.ss58_address)
    sold = staked * 2 // 5
    c.remove_stake(BOB, bob_hot, sold, netuid)
    left = c.stake(bob_hot, netuid=netuid)
    assert left == staked - sold
    price_after = c.stake_value(bob_hot, BOB.ss58_address, netuid) / left
    gained = c.balance(BOB.ss58_address) - paid
    assert sold * price_after - FEE_TOLERANCE <= gained <= sold * price_before + FEE_TOLERANCE, \
        (sold, price_after, gained, price_before)
    assert c.metagraph(netuid).stake[bob] == pytest.approx(left / TAO)
    with pytest.raises(BalanceError):
        c.remove_stake(BOB, bob_hot, 10 * left, netuid)
    with pytest.raises(BalanceError):
        c.add_stake(BOB, bob_hot, 10**9 * TAO, netuid)
    if stakes_per_subnet(c):                                # dTAO: every hotkey is a delegate
        c.add_stake(CHARLIE, bob_hot, TAO, netuid)
        assert c.stake(bob_hot, CHARLIE.ss58_address, netuid) > 0
        assert c.stake(bob_hot, netuid=netuid) > left
    else:
        with pytest.raises(PermissionError_):               # not the hotkey's coldkey
            c.add_stake(CHARLIE, bob_hot, TAO, netuid)
        assert c.stake(bob_hot, netuid=netuid) == left
    assert c.stake(bob_hot, BOB.ss58_address, netuid) == pytest.approx(left, abs=2)
    stranger = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    c.transfer(ALICE, stranger.ss58_address, 5 * TAO)
    assert c.balance(stranger.ss58_address) == 5 * TAO


def test_set_weights_success_and_errors(chain_backend):
    c = chain_backend
    netuid = new_subnet(c, tempo=1000, weights_rate_limit=0)   # no epoch, so no permits, in this test
    bob, dave, eve = register(c, netuid, "Bob", "Dave", "Eve")
    stranger = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    fund(c, hot("Bob"), hot("Dave"), hot("Eve"), stranger)
    with pytest.raises(PermissionError_):                   # no permit before the first epoch
        c.set_weights(netuid, hot("Bob"), [dave, eve], [65535, 65535])
    with pytest.raises(NotRegisteredError):
        c.set_weights(netuid, stranger, [bob], [65535])
    c.set_weights(netuid, hot("Dave"), [dave], [65535])     # a self weight needs no permit
    mg = c.metagraph(netuid)
    assert mg.weights[dave, dave] == 65535 and mg.block_at_registration[dave] < mg.last_update[dave] <= mg.block
    c.set_hyperparameter(netuid, "weights_rate_limit", 100, ALICE)
    with pytest.raises(RateLimitError):
        c.set_weights(netuid, hot("Dave"), [dave], [65535])
    c.set_hyperparameter(netuid, "weights_rate_limit", 0, ALICE)
    c.set_hyperparameter(netuid, "weights_version", 5, ALICE)
    with pytest.raises(WeightsError):
        c.set_weights(netuid, hot("Eve"), [eve], [65535], version_key=1)
    c.set_weights(netuid, hot("Eve"), [eve], [65535], version_key=5)
    assert c.metagraph(netuid).weights[eve, eve] == 65535


def test_weights_limits_and_scores_to_u16(chain_backend):
    c = chain_backend
    netuid = new_subnet(c, tempo=10, weights_rate_limit=0, min_allowed_weights=2, max_weight_limit=40000)
    bob, dave, eve = register(c, netuid, "Bob", "Dave", "Eve")
    fund(c, hot("Bob"))
    c.add_stake(BOB, hot("Bob").ss58_address, 100 * TAO, netuid)
    to_next_epoch(c, netuid)                                # permits
    assert c.metagraph(netuid).validator_permit[bob]
    with pytest.raises(WeightsError):                       # too few weights
        c.set_weights(netuid, hot("Bob"), [dave], [65535])
    with pytest.raises(WeightsError):                       # 99.8% on one uid > max_weight_limit
        c.set_weights(netuid, hot("Bob"), [dave, eve], [65535, 100])
    with pytest.raises(WeightsError):
        c.set_weights(netuid, hot("Bob"), [dave, 7], [65535, 65535])
    hp = c.hyperparameters(netuid)
    uids, values = scores_to_u16([1.0, 0.01], uids=[dave, eve], min_allowed_weights=hp.min_allowed_weights,
                                 max_weight_limit=hp.max_weight_limit)
    assert explain_weights_rejection(c.metagraph(netuid), hp, hot("Bob").ss58_address, uids, values) is None
    c.set_weights(netuid, hot("Bob"), uids, values)
    row = c.metagraph(netuid).weights[bob]
    assert row[dave] == 65535 and 0 < row[eve] < 65535


def test_commit_reveal(chain_backend):
    c = chain_backend
    netuid = new_subnet(c, tempo=10, weights_rate_limit=0)
    try:
        c.set_hyperparameter(netuid, "commit_reveal_enabled", True, ALICE)
    except UnsupportedError as exc:
        pytest.skip(f"this runtime has no commit-reveal: {exc}")
    uid, = register(c, netuid, "Dave")                      # Dave weights himself: a self weight needs no permit
    fund(c, hot("Dave"))
    dave = hot("Dave")
    with pytest.raises(WeightsError):                       # commit-reveal on: no direct weights
        c.set_weights(netuid, dave, [uid], [65535])
    to_next_epoch(c, netuid)                                # commit in the first block of an epoch
    c.commit_weights(netuid, dave, [uid], [65535], salt=[7, 8, 9])
    with pytest.raises(WeightsError):                       # wrong salt, or too early
        c.reveal_weights(netuid, dave, [uid], [65535], salt=[1, 2, 3])
    with pytest.raises(WeightsError):                       # too early
        c.reveal_weights(netuid, dave, [uid], [65535], salt=[7, 8, 9])
    revealed_at = None
    for _ in range(3 * 11):
        c.advance_blocks(1)
        try:
            c.reveal_weights(netuid, dave, [uid], [65535], salt=[7, 8, 9])
        except WeightsError:
            continue
        revealed_at = c.block()
        break
    assert revealed_at is not None, "the reveal was never accepted within 3 tempos"
    assert c.metagraph(netuid).weights[uid, uid] == 65535
    with pytest.raises(WeightsError):                       # the commit is used up
        c.reveal_weights(netuid, dave, [uid], [65535], salt=[7, 8, 9])


def test_hyperparameters_sudo_owner_and_others(chain_backend):
    c = chain_backend
    netuid = c.create_subnet(BOB)                           # Bob owns it, Alice is sudo
    head = c.block()
    c.set_hyperparameters(netuid, {"tempo": 7, "weights_rate_limit": 3}, ALICE)
    assert c.block() == head + 1                            # several values, one extrinsic
    version = c.hyperparameters(netuid).weights_version
    with pytest.raises(PermissionError_):                   # all or none: the owner's own value is undone too
        c.set_hyperparameters(netuid, {"weights_version": version + 6, "tempo": 9}, BOB)
    assert c.hyperparameters(netuid).weights_version == version
    # the owner sets the subnet's own knobs (weights_version on every runtime; weights_rate_limit was
    # the owner's on spec 148 but is root-only on spec 293, so it is sudo's here)
    c.set_hyperparameter(netuid, "weights_version", 4, BOB)
    hp = c.hyperparameters(netuid)
    assert hp.tempo == 7 and hp.weights_rate_limit == 3 and hp.weights_version == 4
    with pytest.raises(PermissionError_):
        c.set_hyperparameter(netuid, "weights_version", 5, CHARLIE)
    with pytest.raises(PermissionError_):                   # tempo is root-only, even for the owner
        c.set_hyperparameter(netuid, "tempo", 9, BOB)
    hp = c.hyperparameters(netuid)
    assert hp.tempo == 7 and hp.weights_rate_limit == 3 and hp.weights_version == 4


def test_metagraph_after_epochs(chain_backend):
    c = chain_backend
    netuid = new_subnet(c, tempo=10, weights_rate_limit=0, max_allowed_validators=2)
    f = first_uid(c, netuid)
    b, ch, d, e = register(c, netuid, "Bob", "Charlie", "Dave", "Eve")
    assert [b, ch, d, e] == [f, f + 1, f + 2, f + 3]
    fund(c, hot("Bob"), hot("Charlie"))
    # Charlie stakes first: on dTAO each buy raises the pool's price, so Bob's later 1000 TAO still buy
    # the most alpha while Charlie's stays well above the alpha the miners earn in two epochs (which
    # would otherwise take Charlie's permit at the second epoch)
    c.add_stake(CHARLIE, hot("Charlie").ss58_address, 30 * TAO, netuid)
    c.add_stake(BOB, hot("Bob").ss58_address, 1000 * TAO, netuid)
    to_next_epoch(c, netuid)
    mg = c.metagraph(netuid)
    assert mg.validator_permit[f:].tolist() == [True, True, False, False]   # top-2 by stake
    assert mg.validator_permit.sum() == 2                                   # (a dTAO owner uid has none)
    c.set_weights(netuid, hot("Bob"), [d, e], [60000, 5535])
    c.set_weights(netuid, hot("Charlie"), [d, e], [30000, 35535])
    to_next_epoch(c, netuid)
    mg = c.metagraph(netuid)
    assert mg.validator_permit[f:].tolist() == [True, True, False, False]   # the same two validators
    assert mg.weights[b, d] == 65535 and mg.weights[ch, e] == 65535       # rows stored max-upscaled
    assert mg.incentive[d] > mg.incentive[e] > 0 and mg.incentive[b] == mg.incentive[ch] == 0
    assert mg.consensus[d] > mg.consensus[e] > 0
    assert mg.dividends[b] > mg.dividends[ch] > 0 and mg.dividends[d] == mg.dividends[e] == 0
    assert mg.dividends.sum() == pytest.approx(1.0, abs=1e-3) and mg.incentive.sum() == pytest.approx(1.0, abs=1e-3)
    assert mg.validator_trust[b] > 0 and mg.validator_trust[d] == 0
    assert mg.bonds[b, d] > 0 and mg.bonds[ch, e] > 0
    for values in (mg.consensus, mg.incentive, mg.dividends, mg.validator_trust):   # stored as u16
        assert np.allclose(values * 65535, np.round(values * 65535))


def test_errors_are_chain_errors_with_hints(chain_backend):
    c = chain_backend
    netuid = new_subnet(c)
    fund(c, hot("Eve"))
    with pytest.raises(ChainError) as err:
        c.set_weights(netuid, hot("Eve"), [0], [65535])
    assert err.value.name and err.value.hint


def test_precheck_why_not_is_the_chains_refusal(chain_backend):
    """chain.weights.RULES (the validator's pre-check) names the same error the chain raises, for
    set_weights and for commits, on every backend."""
    c = chain_backend
    netuid = new_subnet(c, tempo=10, weights_rate_limit=4, min_allowed_weights=2, max_weight_limit=50000,
                        max_allowed_validators=1, weights_version=2)
    bob, dave, eve = register(c, netuid, "Bob", "Dave", "Eve")
    stranger = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    fund(c, hot("Bob"), hot("Dave"), hot("Eve"), stranger)
    c.add_stake(BOB, hot("Bob").ss58_address, 100 * TAO, netuid)
    to_next_epoch(c, netuid)                                # Bob gets the one permit
    n = c.metagraph(netuid).n
    cases = [
        (hot("Bob"), [dave, eve], [65535], 2),              # lengths differ
        (hot("Bob"), list(range(n)) + [dave], [1] * (n + 1), 2),   # more weights than uids
        (stranger, [dave, eve], [1, 1], 2),                 # not registered
        (hot("Bob"), [dave, eve], [65535, 30000], 1),       # old version key
        (hot("Dave"), [bob, eve], [65535, 65535], 2),       # no permit
        (hot("Bob"), [dave, dave], [1, 1], 2),              # duplicate uid
        (hot("Bob"), [dave, 7], [1, 1], 2),                 # no such uid
        (hot("Bob"), [dave], [65535], 2),                   # too few
        (hot("Bob"), [dave, eve], [65535, 100], 2),         # over max_weight_limit
        (hot("Bob"), [dave, eve], [65535, 40000], 2),       # accepted
        (hot("Bob"), [dave, eve], [65535, 40000], 2),       # too soon after it
    ]
    seen = set()
    for key, uids, values, version in cases:
        mg, hp = c.metagraph(netuid), c.hyperparameters(netuid)
        call = call_from_metagraph(mg, key.ss58_address, "set", uids, values, version, block=c.block() + 1)
        predicted = weights_violation(call, hp)
        try:
            c.set_weights(netuid, key, uids, values, version)
            refused = None
        except ExtrinsicError as exc:
            refused = exc.name
        assert (predicted is None and refused is None) or (predicted and same_refusal(predicted.error, refused)), \
            (uids, values, version, predicted, refused)
        seen.add(refused)
    assert len(seen) >= 8                                   # the test covered most rules

    try:
        c.set_hyperparameter(netuid, "commit_reveal_enabled", True, ALICE)
    except UnsupportedError:
        return                                              # spec 148: no commit-reveal
    for key, uids, values in ((hot("Bob"), [dave, eve], [65535, 40000]), (stranger, [dave], [1])):
        mg, hp = c.metagraph(netuid), c.hyperparameters(netuid)
        predicted = weights_violation(call_from_metagraph(mg, key.ss58_address, "set", uids, values, 2,
                                                          block=c.block() + 1), hp)
        with pytest.raises(ExtrinsicError) as err:
            c.set_weights(netuid, key, uids, values, 2)
        assert predicted.error == err.value.name == "CommitRevealEnabled"
        predicted = weights_violation(call_from_metagraph(mg, key.ss58_address, "commit", block=c.block() + 1), hp)
        try:
            c.commit_weights(netuid, key, uids, values, salt=[1, 2], version_key=2)
            refused = None
        except ExtrinsicError as exc:
            refused = exc.name
        assert (predicted and predicted.error) == refused, (key.ss58_address, predicted, refused)
