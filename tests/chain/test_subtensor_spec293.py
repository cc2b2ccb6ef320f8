"""The dTAO runtime (spec 293, July 2025) under Chopsticks, through the public `Chain` API: subnet
creation with start_call, alpha stake per subnet and its TAO value, a price-limited stake, hash
commit-reveal driven by the validator's WeightSubmitter (also across a restart while its commit still
waits in the node's pool), and a drand-timelocked (CRv3) commit built
with bittensor-drand, stored, then the real round-1000 pulse written to see whether the runtime
reveals it (it does not: the runtime cannot deserialise bittensor-drand 2.0.0's ciphertext). Skips, saying what is missing, without Chopsticks or the spec (`neuron localnet fetch`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from substrateinterface import Keypair

from chain.errors import ChainError
from chain.subtensor import timelock
from chain.subtensor.commit import commit_hash
from chain.types import RAO_PER_TAO as TAO
from neurons.validator.submit import PendingCommit, PendingStore, SubmitterState, WeightSubmitter

pytestmark = pytest.mark.localnet
K = Keypair.create_from_uri
ALICE = K("//Alice")
# drand quicknet round 1000, recorded in opentensor/subtensor pallets/drand/src/tests.rs (public test vector)
ROUND = 1000
RANDOMNESS = "fe290beca10872ef2fb164d2aa4442de4566183ec51c56ff3cd603d930e54fdd"
SIGNATURE = ("b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125"
             "e342b73a8dd2bacbe47e4b6b63ed5e39")


@pytest.fixture(scope="module")
def chain293(tmp_path_factory):
    from chain.localnet import process
    from chain.localnet.bootstrap import relax_chain
    from chain.localnet.chopsticks import ChopsticksMissing
    from chain.localnet.local import LocalChain
    from chain.localnet.spec import ChainSpecMissing

    state = tmp_path_factory.mktemp("spec293")
    try:
        st, _ = process.start(port=process.free_port(), state_dir=state, install=False, runtime=293)
    except (ChainSpecMissing, ChopsticksMissing) as exc:
        pytest.skip(f"spec-293 tests need: {exc} -> {exc.hint}")
    try:
        chain = LocalChain(st.url)
        chain.log_file = st.log_file
        relax_chain(chain)
        yield chain
        chain.close()
    finally:
        process.stop(state)


def to_epoch(c, netuid: int) -> int:
    tempo = c.hyperparameters(netuid).tempo
    head = c.block()
    return c.advance_blocks(1 + (-(netuid + 2) - (head + 1)) % (tempo + 1))


def subnet_with_validator(c) -> tuple[int, Keypair]:
    netuid = c.create_subnet(ALICE)                       # practical: tempo 10, start_call done
    vali = K("//Vali293")
    for name in ("Vali293", "MinerA", "MinerB"):
        c.transfer(ALICE, K(f"//{name}").ss58_address, 10 * TAO)
        c.register(netuid, K(f"//{name}").ss58_address, ALICE)
    c.add_stake(ALICE, vali.ss58_address, 1000 * TAO, netuid)
    to_epoch(c, netuid)
    return netuid, vali


def test_dtao_subnet_stake_and_value(chain293):
    c = chain293
    assert c.shape.spec_version == 293 and c.yuma_variant == "current" and c.shape.stakes_per_subnet
    netuid = c.create_subnet(ALICE)
    assert c.query("SubtokenEnabled", [netuid]) is True and c.query("FirstEmissionBlockNumber", [netuid])
    hot = K("//Staker293")
    c.register(netuid, hot.ss58_address, ALICE)
    c.add_stake(ALICE, hot.ss58_address, 50 * TAO, netuid)
    alpha = c.stake(hot.ss58_address, ALICE.ss58_address, netuid)
    assert 0 < alpha == c.stake(hot.ss58_address, None, netuid)      # one staker holds all shares
    assert c.stake_value(hot.ss58_address, ALICE.ss58_address, netuid) > 0
    mg = c.metagraph(netuid)
    assert mg.stake[mg.uid_of(hot.ss58_address)] == pytest.approx(alpha / TAO)
    price = c.alpha_price(netuid)
    with pytest.raises(ChainError):                       # a limit far under the price buys nothing
        c.add_stake(ALICE, hot.ss58_address, 10 * TAO, netuid, limit_price=price / 1000)
    assert c.stake(hot.ss58_address, ALICE.ss58_address, netuid) == alpha
    with pytest.raises(ChainError, match="per subnet") as err:
        c.stake(hot.ss58_address)
    assert "netuid" in err.value.hint


def test_weight_submitter_commits_then_reveals(chain293, tmp_path):
    c = chain293
    netuid, vali = subnet_with_validator(c)
    assert c.hyperparameters(netuid).commit_reveal_enabled and c.metagraph(netuid).validator_permit[1]
    sub = WeightSubmitter(c, netuid, vali, tmp_path, interval_blocks=11, mode="hash")
    scores = np.array([0.0, 0.0, 0.8, 0.2])               # uid 0: the owner, 1: the validator
    sub.submit(c.metagraph(netuid), scores)
    p = sub.state.pending
    assert p is not None and p.status == "committed"
    assert [d for d, _ in c.weight_commits(netuid, vali.ss58_address)] == [p.digest]
    for _ in range(30):
        c.advance_blocks(1)
        sub.submit(c.metagraph(netuid), scores)
        if sub.state.pending is None:
            break
    assert sub.state.pending is None, "never revealed"
    row = c.metagraph(netuid).weights[1]
    assert row[2] == 65535 and 0 < row[3] < 65535
    assert c.weight_commits(netuid, vali.ss58_address) == []


def test_weight_submitter_waits_for_its_commit_still_in_the_pool(chain293, tmp_path):
    """The validator killed after its commit went out, before a block took it (a real node builds one
    every 12 s; a restart takes less). Here Chopsticks builds blocks only when asked (Manual mode), so
    the commit waits in its pool while the WeightSubmitter restarts: it waits for that commit instead
    of sending a second one (whose record would replace the first, never revealed), then reveals it."""
    c = chain293
    netuid, vali = subnet_with_validator(c)
    version = c.hyperparameters(netuid).weights_version
    uids, values, salt = [2, 3], [65535, 16384], [1, 2, 3, 4, 5, 6, 7, 8]
    digest = commit_hash(vali.public_key, netuid, uids, values, salt, version)
    # what the first run did before the kill: the record, then the extrinsic, sent and not in a block yet
    PendingStore(tmp_path).save(SubmitterState(PendingCommit("hash", "committing", uids, values, version, digest,
                                                             sent_at=c.block(), salt=salt)))
    scores = np.array([0.0, 0.0, 0.2, 0.8])              # the restart would commit other weights
    c.rpc("dev_setBlockBuildMode", ["Manual"])
    try:
        xt = c._conn.run(lambda s: s.create_signed_extrinsic(
            call=s.compose_call("SubtensorModule", "commit_weights", {"netuid": netuid, "commit_hash": digest}),
            keypair=vali))
        c._conn.run(lambda s: s.submit_extrinsic(xt, wait_for_inclusion=False))
        assert c.pending_extrinsics(vali.ss58_address) == 1
        sub = WeightSubmitter(c, netuid, vali, tmp_path, interval_blocks=11, mode="hash")   # the restart
        sub.submit(c.metagraph(netuid), scores)
        assert sub.why_not == "commit-in-pool" and c.weight_commits(netuid, vali.ss58_address) == []
        c.advance_blocks(1)                               # a block takes it at last
    finally:
        c.rpc("dev_setBlockBuildMode", ["Instant"])
    assert c.pending_extrinsics(vali.ss58_address) == 0
    seen = []
    for _ in range(30):
        sub.submit(c.metagraph(netuid), scores)
        seen.append(len(c.weight_commits(netuid, vali.ss58_address)))
        if sub.state.pending is None:
            break
        c.advance_blocks(1)
    assert sub.state.pending is None, "never revealed"
    assert max(seen) == 1                                 # that one commit, revealed; never a second
    row = c.metagraph(netuid).weights[1]
    assert row[2] == 65535 and 0 < row[3] < 65535         # the weights of the commit in the pool


def test_crv3_commit_is_stored_and_the_pulse_decides(chain293):
    c = chain293
    netuid, vali = subnet_with_validator(c)
    assert c.timelock_call() == "commit_crv3_weights"
    payload = timelock.weights_payload([2, 3], [65535, 20000], 0)
    ciphertext = timelock.encrypt(payload, ROUND)
    c.commit_timelocked_weights(netuid, vali, ciphertext, ROUND)
    stored = c.weight_commits(netuid, vali.ss58_address)
    assert len(stored) == 1                                # the ciphertext is on chain, as sent
    # write the real round-1000 pulse (sudo System.set_storage), then run to the reveal epoch
    pulse = (ROUND.to_bytes(8, "little") + bytes([32 << 2]) + bytes.fromhex(RANDOMNESS)
             + bytes([48 << 2]) + bytes.fromhex(SIGNATURE))
    key = c.storage_key("Drand", "Pulses", [ROUND])
    c.submit("System", "set_storage", {"items": [(key, "0x" + pulse.hex())]}, ALICE, sudo=True)
    assert c.query("Pulses", [ROUND], pallet="Drand")["round"] == ROUND
    for _ in range(2):
        to_epoch(c, netuid)
    row = c.metagraph(netuid).weights[1]
    revealed = bool(row[2] == 65535)
    assert c.weight_commits(netuid, vali.ss58_address) == []   # the reveal step took the commit
    log = Path(c.log_file).read_text(errors="replace")
    # Measured: spec 293's tle cannot read bittensor-drand 2.0.0's ciphertext ("error deserializing the
    # commit: UnexpectedFlags"), so CRv3 commits from today's library are never revealed on this runtime;
    # the validator uses hash commit-reveal there (WeightSubmitter mode auto)
    assert revealed or "error deserializing the commit" in log, log[-3000:]
    print(f"CRv3 commit revealed by the runtime under Chopsticks: {revealed}")
