"""The validator's WeightSubmitter on the dev ledger (real ledger, real sr25519 keys): set_weights,
commit then reveal in the window, recovery from every crash point of the record, and "why not"
logged once per change. The drand-timelocked payload is checked offline against a real quicknet pulse."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from substrateinterface import Keypair

from chain.dev import DevChain
from chain.subtensor import timelock
from chain.subtensor.commit import commit_hash
from chain.types import RAO_PER_TAO as TAO
from chain.weights import reveal_epoch
from neurons.validator.submit import PendingCommit, PendingStore, SubmitterState, WeightSubmitter

K = Keypair.create_from_uri
ALICE = K("//Alice")
VALI = K("//ValiHot")
SCORES = np.array([0.0, 0.7, 0.3])

# drand quicknet round 1000, as recorded in opentensor/subtensor pallets/drand/src/tests.rs (a public test vector)
ROUND_1000_SIGNATURE = ("b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125"
                        "e342b73a8dd2bacbe47e4b6b63ed5e39")
# quicknet round 1000 with a different (invalid) signature, from the same file
BAD_SIGNATURE = ("b0a8b04e009cf72534321aca0f50048da596a3feec1172a0244d9a4a623a3123"
                 "d0402da79854d4c705e94bc73224c341")


@pytest.fixture
def subnet(tmp_path):
    """A dev ledger (one block per extrinsic) with a validator (uid 0, permit) and two miners."""
    chain = DevChain(str(tmp_path / "ledger.sqlite"))
    netuid = chain.create_subnet(ALICE)
    for name, value in dict(tempo=10, weights_rate_limit=5, commit_reveal_enabled=True, commit_reveal_period=1).items():
        chain.set_hyperparameter(netuid, name, value, ALICE)
    for i, name in enumerate(("Vali", "M1", "M2")):
        chain.register(netuid, K(f"//{name}Hot").ss58_address, ALICE)
    chain.add_stake(ALICE, VALI.ss58_address, 100 * TAO)
    chain.advance_blocks(11)                               # one epoch: the validator gets its permit
    assert chain.metagraph(netuid).validator_permit[0]
    try:
        yield chain, netuid
    finally:
        chain.close()


def submitter(chain, netuid, tmp_path, **kw) -> WeightSubmitter:
    return WeightSubmitter(chain, netuid, VALI, tmp_path / "state", interval_blocks=kw.pop("interval", 5), **kw)


def run_until(chain, netuid, sub, done, max_blocks=40) -> int:
    for _ in range(max_blocks):
        sub.submit(chain.metagraph(netuid), SCORES)
        if done():
            return chain.block()
        chain.advance_blocks(1)
    raise AssertionError("never happened")


def test_direct_weights_when_commit_reveal_is_off(subnet, tmp_path, caplog):
    chain, netuid = subnet
    chain.set_hyperparameter(netuid, "commit_reveal_enabled", False, ALICE)
    sub = submitter(chain, netuid, tmp_path, interval=50)
    with caplog.at_level(logging.INFO, "opensubnet.validator.weights"):
        sub.submit(chain.metagraph(netuid), SCORES)
        first = sub.last_weights_block
        assert first >= 0 and chain.metagraph(netuid).weights[0, 1] == 65535
        for _ in range(5):                                 # inside the interval: one "why not" line, not five
            chain.advance_blocks(1)
            sub.submit(chain.metagraph(netuid), SCORES)
    assert sub.last_weights_block == first
    assert sum("weights not submitted" in r.message for r in caplog.records) == 1


def test_commit_then_reveal_in_the_window(subnet, tmp_path):
    chain, netuid = subnet
    hp = chain.hyperparameters(netuid)
    sub = submitter(chain, netuid, tmp_path)
    sub.submit(chain.metagraph(netuid), SCORES)
    p = sub.state.pending
    assert p is not None and p.status == "committed" and chain.weight_commits(netuid, VALI.ss58_address) == [(p.digest, p.block)]
    assert PendingStore(tmp_path / "state").load().pending == p          # on disk before anything else
    assert not chain.metagraph(netuid).weights[0].any()
    revealed = run_until(chain, netuid, sub, lambda: sub.state.pending is None)
    assert reveal_epoch(revealed, netuid, hp.tempo) == reveal_epoch(p.block, netuid, hp.tempo) + 1
    row = chain.metagraph(netuid).weights[0]
    assert row[1] == 65535 and 0 < row[2] < 65535
    assert chain.weight_commits(netuid, VALI.ss58_address) == []


def test_recovers_every_crash_point(subnet, tmp_path):
    chain, netuid = subnet
    store = PendingStore(tmp_path / "state")
    uids, values, salt = [1, 2], [65535, 28086], [5, 6, 7]
    digest = commit_hash(VALI.public_key, netuid, uids, values, salt, 0)

    # killed after writing the record, before the commit went out: it is dropped, a fresh commit follows
    store.save(SubmitterState(PendingCommit("hash", "committing", uids, values, 0, digest, sent_at=chain.block(), salt=salt)))
    sub = submitter(chain, netuid, tmp_path)
    sub.submit(chain.metagraph(netuid), SCORES)
    fresh = sub.state.pending
    assert fresh is not None and fresh.digest != digest
    assert [d for d, _ in chain.weight_commits(netuid, VALI.ss58_address)] == [fresh.digest]   # exactly one commit
    run_until(chain, netuid, sub, lambda: sub.state.pending is None)

    # killed after the commit landed, before the record said so: the restart reveals it, no second commit
    chain.advance_blocks(6)
    store.save(SubmitterState(PendingCommit("hash", "committing", uids, values, 0, digest, sent_at=chain.block(), salt=salt)))
    chain.commit_weights(netuid, VALI, uids, values, salt)
    sub = submitter(chain, netuid, tmp_path)
    seen = []
    run_until(chain, netuid, sub, lambda: seen.append(len(chain.weight_commits(netuid, VALI.ss58_address)))
              or sub.state.pending is None)
    assert max(seen) == 1                                  # never a second commit while one is pending
    assert chain.metagraph(netuid).weights[0, 2] == 65535 * 28086 // 65535

    # killed after the reveal landed, before the record was cleared: no second reveal, the record goes
    chain.advance_blocks(6)
    sub = submitter(chain, netuid, tmp_path)
    sub.submit(chain.metagraph(netuid), SCORES)
    p = sub.state.pending
    run_until(chain, netuid, sub, lambda: sub.state.pending is None)       # revealed
    p.status = "revealing"
    store.save(SubmitterState(p, sub.last_weights_block))                  # the record as the kill left it
    sub = submitter(chain, netuid, tmp_path)
    sub.submit(chain.metagraph(netuid), SCORES)
    assert sub.state.pending is None or sub.state.pending.digest != p.digest
    assert store.load().pending is None or store.load().pending.digest != p.digest


def test_a_commit_still_in_the_pool_is_waited_for_not_doubled(subnet, tmp_path):
    """Killed after the commit went out, before a block took it (a real chain builds one every 12 s; a
    restart takes less): the restart finds it neither on chain nor gone for good, so it waits for it
    instead of committing again (two commits, the first never revealed), then reveals it."""
    chain, netuid = subnet
    store = PendingStore(tmp_path / "state")
    uids, values, salt = [1, 2], [65535, 28086], [5, 6, 7]
    digest = commit_hash(VALI.public_key, netuid, uids, values, salt, 0)
    store.save(SubmitterState(PendingCommit("hash", "committing", uids, values, 0, digest, sent_at=chain.block(), salt=salt)))
    in_pool = [1]
    chain.pending_extrinsics = lambda ss58: in_pool[0] if ss58 == VALI.ss58_address else 0
    sub = submitter(chain, netuid, tmp_path)
    for _ in range(3):
        sub.submit(chain.metagraph(netuid), SCORES)
        chain.advance_blocks(1)
    assert chain.weight_commits(netuid, VALI.ss58_address) == [] and sub.state.pending.status == "committing"
    assert sub.why_not == "commit-in-pool"
    chain.commit_weights(netuid, VALI, uids, values, salt)   # a block takes it at last
    in_pool[0] = 0
    seen = []
    run_until(chain, netuid, sub, lambda: seen.append(len(chain.weight_commits(netuid, VALI.ss58_address)))
              or sub.state.pending is None)
    assert max(seen) == 1                                  # that commit, revealed; never a second one
    assert chain.metagraph(netuid).weights[0, 2] == 28086


def test_an_extrinsic_stuck_in_the_pool_does_not_stop_weights_for_good(subnet, tmp_path):
    """Something of the hotkey's that never leaves the pool (a nonce gap, a low-priority extrinsic):
    past the commit's reveal period a commit landing could not be revealed anyway, so it commits afresh."""
    chain, netuid = subnet
    store = PendingStore(tmp_path / "state")
    uids, values, salt = [1, 2], [65535, 28086], [5, 6, 7]
    digest = commit_hash(VALI.public_key, netuid, uids, values, salt, 0)
    store.save(SubmitterState(PendingCommit("hash", "committing", uids, values, 0, digest, sent_at=chain.block(), salt=salt)))
    chain.pending_extrinsics = lambda ss58: 1                # stuck forever
    sub = submitter(chain, netuid, tmp_path)
    sub.submit(chain.metagraph(netuid), SCORES)
    assert sub.why_not == "commit-in-pool"
    hp = chain.hyperparameters(netuid)
    chain.advance_blocks((hp.commit_reveal_period + 1) * (hp.tempo + 1) + 1)
    run_until(chain, netuid, sub, lambda: len(chain.weight_commits(netuid, VALI.ss58_address)) == 1)
    assert sub.state.pending.digest != digest               # a fresh commit, not the lost one


def test_corrupt_record_is_a_clear_error(tmp_path):
    (tmp_path / "weights.json").write_text("{not json")
    with pytest.raises(Exception) as err:
        PendingStore(tmp_path).load()
    assert "weights.json" in str(err.value) and getattr(err.value, "hint", "")


def test_timelocked_payload_opens_with_the_real_round_1000_pulse():
    payload = timelock.weights_payload([1, 2], [65535, 28086], 3, hotkey=VALI.public_key)
    assert timelock.decode_payload(payload, with_hotkey=True) == (VALI.public_key, [1, 2], [65535, 28086], 3)
    legacy = timelock.weights_payload([4], [9], 0)                         # spec 293's CRv3 layout
    assert timelock.decode_payload(legacy, with_hotkey=False) == (None, [4], [9], 0)
    ciphertext = timelock.encrypt(payload, 1000)
    assert payload not in ciphertext
    assert timelock.decrypt(ciphertext, ROUND_1000_SIGNATURE) == payload
    with pytest.raises(ValueError):
        timelock.decrypt(ciphertext, BAD_SIGNATURE)
    assert timelock.round_at(timelock.QUICKNET_GENESIS + 3 * 999) == 1000


def test_timelocked_mode_without_the_call_says_why(subnet, tmp_path, caplog):
    chain, netuid = subnet
    sub = submitter(chain, netuid, tmp_path, mode="timelock")
    with caplog.at_level(logging.INFO, "opensubnet.validator.weights"):
        for _ in range(3):
            sub.submit(chain.metagraph(netuid), SCORES)
    assert sub.state.pending is None and chain.weight_commits(netuid, VALI.ss58_address) == []
    lines = [r.message for r in caplog.records if "no drand-timelocked commits" in r.message]
    assert len(lines) == 1
