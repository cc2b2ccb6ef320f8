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
from localnet_fixture import private_chain
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
    with private_chain(tmp_path_factory.mktemp("spec293"), 293) as chain:
        yield chain


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
    assert c.shape.spec_version == 293 and c.yuma_variant == "spec293" and c.shape.stakes_per_subnet
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


def test_audit_agrees_with_the_spec293_epochs(chain293, capsys):
    """`neuron audit` on today's rules: Yuma3 and a partial bonds penalty set through the hyperparameter
    table, two validators whose stakes are bought through the pool, three epochs, every stored field
    (StakeWeight, Bonds and Emission in rao included) recomputed exactly."""
    import argparse

    from chain.audit import audit_epoch, last_epoch_block
    from neurons.cli import audit as cli

    c = chain293
    netuid = c.create_subnet(ALICE)
    c.set_hyperparameters(netuid, {"commit_reveal_enabled": False, "yuma3": True, "bonds_penalty": 30000}, ALICE)
    hp = c.hyperparameters(netuid)
    assert hp.yuma3 and hp.bonds_penalty == 30000 and not hp.liquid_alpha
    names = ["AuV0", "AuV1", "AuM0", "AuM1", "AuM2"]
    uids = {n: c.register(netuid, K(f"//{n}").ss58_address, ALICE) for n in names}
    c.add_stake(ALICE, K("//AuV0").ss58_address, 1000 * TAO, netuid)
    c.add_stake(ALICE, K("//AuV1").ss58_address, 300 * TAO, netuid)
    to_epoch(c, netuid)                                   # permits
    miners = [uids[f"AuM{j}"] for j in range(3)]
    c.set_weights(netuid, K("//AuV0"), miners, [50000, 30000, 12000])
    c.set_weights(netuid, K("//AuV1"), miners, [10000, 60000, 30000])
    to_epoch(c, netuid)
    c.set_weights(netuid, K("//AuV1"), miners, [40000, 30000, 2000])   # v1 changes its mind
    to_epoch(c, netuid)
    to_epoch(c, netuid)
    latest, period = last_epoch_block(c, netuid), hp.tempo + 1
    for b in (latest - 2 * period, latest - period, latest):
        report = audit_epoch(c, netuid, b)
        assert {"StakeWeight", "Bonds", "Emission", "PruningScores"} <= set(report.chain)
        assert report.chain["Incentive"].sum() > 60000 and report.chain["Bonds"].max() > 0   # a real epoch
        assert report.max_diff == 0, report.table()

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(["--chain", c.url, "--netuid", str(netuid)])) == 0
    out = capsys.readouterr().out
    assert f"epoch of block {latest}" in out and "AGREES exactly on 12 stored fields" in out
    assert c.shape.key_types("SubtensorModule", "Weights")[0] != "NetUidStorageIndex"   # mechanisms came later
    with pytest.raises(ChainError, match="keeps one Incentive per subnet: it has no mechanisms"):
        c.metagraph(netuid, mechid=1)
