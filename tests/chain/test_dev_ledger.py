"""What only the dev ledger promises: runtime error names, pruning, emission, the epoch block rule,
u16 storage equal to consensus.run_epoch, real-time blocks, sharing between processes, crash safety."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st
from substrateinterface import Keypair

import chain
from chain.dev import DevChain
from chain.dev.blocks import next_epoch_block
from chain.errors import ChainError, UnsupportedError
from chain.types import RAO_PER_TAO as TAO

K = Keypair.create_from_uri
ALICE, BOB, CHARLIE = K("//Alice"), K("//Bob"), K("//Charlie")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hot(i: int) -> Keypair:
    return K(f"//Hot{i}")


def issuance_matches(path: str) -> bool:
    """Every rao is somewhere: free balances + stake == the issuance the ledger tracks."""
    db = sqlite3.connect(path)
    try:
        free = db.execute("SELECT COALESCE(SUM(free), 0) FROM accounts").fetchone()[0]
        staked = db.execute("SELECT COALESCE(SUM(amount), 0) FROM stakes").fetchone()[0]
        issuance = int(db.execute("SELECT value FROM meta WHERE key='issuance'").fetchone()[0])
        return free + staked == issuance
    finally:
        db.close()


def subnet(c: DevChain, **hp) -> int:
    """A new subnet with these hyperparameters; commit-reveal off unless asked (local subnets start with it on)."""
    netuid = c.create_subnet(ALICE)
    for name, value in {"commit_reveal_enabled": False, **hp}.items():
        c.set_hyperparameter(netuid, name, value, ALICE)
    return netuid


@given(st.integers(0, 10**6), st.integers(0, 100), st.integers(0, 50))
def test_next_epoch_block_follows_the_runtime_rule(after, netuid, tempo):
    b = next_epoch_block(after, netuid, tempo)
    if tempo == 0:
        assert b is None
        return
    assert b > after and (b + netuid + 2) % (tempo + 1) == 0
    assert all((x + netuid + 2) % (tempo + 1) for x in range(after + 1, b))


def test_runtime_error_names(dev_chain):
    c = dev_chain
    netuid = subnet(c, tempo=1000, weights_rate_limit=100)
    c.register(netuid, hot(0).ss58_address, BOB)
    cases = [
        (lambda: c.set_weights(netuid, hot(0), [0, 1], [1]), "WeightVecNotEqualSize"),
        (lambda: c.set_weights(netuid, hot(9), [0], [1]), "HotKeyNotRegisteredInSubNet"),
        (lambda: c.set_weights(netuid, hot(0), [0], [1], version_key=0) or c.set_weights(netuid, hot(0), [0], [1]),
         "SettingWeightsTooFast"),
        (lambda: c.add_stake(BOB, hot(9).ss58_address, TAO), "HotKeyAccountNotExists"),
        (lambda: c.remove_stake(BOB, hot(0).ss58_address, TAO), "NotEnoughStakeToWithdraw"),
        (lambda: c.serve_axon(netuid, hot(0), "0.0.0.0", 1), "InvalidIpAddress"),
        (lambda: c.commit_weights(netuid, hot(0), [0], [1], [1]), "CommitRevealDisabled"),
        (lambda: c.set_hyperparameter(netuid, "kappa", 1, BOB), "BadOrigin"),
        (lambda: c.transfer(CHARLIE, BOB.ss58_address, 10**30), "InsufficientBalance"),
        (lambda: c.metagraph(77), "SubNetworkDoesNotExist"),
    ]
    for call, name in cases:
        with pytest.raises(ChainError) as err:
            call()
        assert err.value.name == name, (name, err.value)


def test_commit_reveal_window_and_expiry(dev_chain):
    c = dev_chain
    netuid = subnet(c, tempo=10, weights_rate_limit=0, commit_reveal_enabled=True, commit_reveal_period=1)
    c.register(netuid, hot(0).ss58_address, BOB)
    me, args = hot(0), ([0], [65535], [4, 2])

    def to_epoch_start(epochs: int = 1) -> None:  # head := the epoch block, so the next extrinsic opens an epoch
        for _ in range(epochs):
            c.advance_blocks(next_epoch_block(c.block(), netuid, 10) - c.block())

    def reveal_error() -> str:
        with pytest.raises(ChainError) as err:
            c.reveal_weights(netuid, me, *args)
        return err.value.name

    to_epoch_start()
    c.commit_weights(netuid, me, *args)
    assert reveal_error() == "RevealTooEarly"
    to_epoch_start(2)                                   # the reveal epoch went by unused
    assert reveal_error() == "ExpiredWeightCommit"
    assert reveal_error() == "ExpiredWeightCommit"     # a failed reveal changes nothing, as on chain
    to_epoch_start()
    c.commit_weights(netuid, me, *args)
    committed_at = c.block()
    to_epoch_start()
    c.reveal_weights(netuid, me, *args)
    mg = c.metagraph(netuid)
    assert mg.weights[0, 0] == 65535 and mg.last_update[0] == committed_at   # activity counts from the commit


def test_explain_weights_rejection_predicts_the_ledger(dev_chain):
    """The one-line pre-check says None exactly when the ledger accepts the submission."""
    from chain.weights import explain_weights_rejection

    c = dev_chain
    netuid = subnet(c, tempo=6, weights_rate_limit=3, min_allowed_weights=2, max_weight_limit=50000,
                    max_allowed_validators=2, weights_version=2)
    for i in range(4):
        c.register(netuid, hot(i).ss58_address, BOB)
    c.add_stake(BOB, hot(0).ss58_address, 10 * TAO)
    c.add_stake(BOB, hot(1).ss58_address, 5 * TAO)
    c.advance_blocks(next_epoch_block(c.block(), netuid, 6) - c.block())
    submissions = [
        (0, [2, 3], [65535, 30000], 2), (0, [2, 3], [65535, 30000], 2), (1, [2], [65535], 2),
        (1, [2, 3], [65535, 100], 2), (1, [2, 2], [1, 1], 2), (1, [2, 9], [1, 1], 2), (1, [2, 3], [1, 1], 1),
        (3, [1, 2], [1, 1], 2), (3, [3], [1], 2), (9, [1, 2], [1, 1], 2), (1, [2, 3], [40000, 30000], 2),
    ]
    verdicts = []
    for who, uids, values, version in submissions:
        mg, hp = c.metagraph(netuid), c.hyperparameters(netuid)
        reason = explain_weights_rejection(mg, hp, hot(who).ss58_address, uids, values, version)
        try:
            c.set_weights(netuid, hot(who), uids, values, version)
            accepted = True
        except ChainError:
            accepted = False
        assert accepted == (reason is None), (who, uids, values, version, reason)
        verdicts.append(accepted)
    assert verdicts.count(True) >= 3 and verdicts.count(False) >= 6


def test_failed_extrinsic_builds_its_block_and_changes_nothing(dev_chain):
    c = dev_chain
    head, bob = c.block(), c.balance(BOB.ss58_address)
    with pytest.raises(ChainError):
        c.add_stake(BOB, hot(5).ss58_address, TAO)
    assert c.block() == head + 1 and c.balance(BOB.ss58_address) == bob
    with pytest.raises(ChainError, match="no private key"):
        c.transfer(Keypair(ss58_address=BOB.ss58_address), CHARLIE.ss58_address, 1)
    netuid = c.create_subnet(ALICE)
    with pytest.raises(UnsupportedError):
        c.metagraph(netuid, block=c.block() - 1)


def test_full_subnet_prunes_lowest_emission_outside_immunity(dev_chain):
    c = dev_chain
    netuid = subnet(c, tempo=5, max_allowed_uids=3, immunity_period=20, weights_rate_limit=0)
    for i in range(3):
        c.register(netuid, hot(i).ss58_address, BOB)
    # uid 0 validates and weights uid 1 only; after a few epochs uid 2 has the lowest emission
    c.add_stake(BOB, hot(0).ss58_address, 100 * TAO)
    c.advance_blocks(7)
    c.set_weights(netuid, hot(0), [1], [65535])
    c.advance_blocks(6)
    mg = c.metagraph(netuid)
    assert mg.emission[2] < mg.emission[1]
    # everyone is still immune: the lowest emission among the immune goes
    assert c.register(netuid, hot(3).ss58_address, BOB) == 2
    assert c.uid(netuid, hot(2).ss58_address) is None and c.uid(netuid, hot(3).ss58_address) == 2
    mg = c.metagraph(netuid)   # next: uids 0, 1 out of immunity, the newcomer at uid 2 still immune
    c.advance_blocks(int(mg.block_at_registration[:2].max()) + 20 - 1 - c.block())
    assert c.block() + 1 - mg.block_at_registration[2] < 20
    mortal = min((0, 1), key=lambda u: (mg.emission[u], mg.block_at_registration[u], u))
    assert c.register(netuid, hot(4).ss58_address, BOB) == mortal
    assert c.metagraph(netuid).hotkeys[2] == hot(3).ss58_address


def test_epoch_stores_run_epoch_in_u16_and_pays_emission(dev_chain):
    """The stored epoch is consensus.run_epoch under today's rules (variant "current") on the storage of
    block B-1, weighing stake on the subnet plus root stake, draining the pending emission B's own
    included, paying it as stake on the subnet; the audit reads the same back and agrees."""
    from chain.audit import audit_epoch
    from chain.dev.blocks import owner_cut
    from consensus import EpochInput, YumaParams, emission_amounts, run_epoch, stored_u16

    c = dev_chain
    assert c.yuma_variant == "current"
    netuid = subnet(c, tempo=10, weights_rate_limit=0, max_allowed_validators=2)
    for i, coldkey in enumerate((BOB, CHARLIE, BOB, BOB)):
        c.register(netuid, hot(i).ss58_address, coldkey)
    c.add_stake(BOB, hot(0).ss58_address, 700 * TAO, netuid)     # alpha on this subnet
    c.add_stake(CHARLIE, hot(1).ss58_address, 300 * TAO)         # root stake: counts on every subnet
    epoch = next_epoch_block(c.block(), netuid, 10)
    c.advance_blocks(epoch - c.block())
    c.set_weights(netuid, hot(0), [2, 3], [50000, 20000])
    c.set_weights(netuid, hot(1), [2, 3], [10000, 60000])
    previous, epoch = epoch, next_epoch_block(c.block(), netuid, 10)
    c.advance_blocks(epoch - 1 - c.block())
    before = c.metagraph(netuid)                       # the state the epoch reads (block B-1)
    c.advance_blocks(1)
    after = c.metagraph(netuid)
    hp = c.hyperparameters(netuid)
    res = run_epoch(EpochInput(stake=before.extra["stake_rao"], weights=before.weights, bonds=before.bonds,
                               validator_permit=before.validator_permit, last_update=before.last_update,
                               block_at_registration=before.block_at_registration, current_block=epoch,
                               activity_cutoff=hp.activity_cutoff, last_tempo=epoch - hp.tempo),
                    YumaParams(variant="current", max_allowed_validators=2, quantize_bonds=True))
    want = stored_u16(res)
    for name, key in (("consensus", "Consensus"), ("incentive", "Incentive"), ("dividends", "Dividends"),
                      ("validator_trust", "ValidatorTrust")):
        assert np.array_equal(np.rint(getattr(after, name) * 65535), want[key]), name
    assert after.validator_permit.tolist() == want["ValidatorPermit"].tolist()
    assert after.extra["active"].all()
    drained = (epoch - previous) * (TAO - owner_cut(TAO))  # every block since the last epoch, B's included
    assert after.extra["emission_rao"].tolist() == emission_amounts(res.combined_share, drained).tolist()
    paid = after.extra["stake_rao"] - before.extra["stake_rao"]
    assert paid.tolist() == after.extra["emission_rao"].tolist() and paid.sum() > 0
    assert after.emission[2] > 0 and after.emission[0] > 0
    assert issuance_matches(c.store.path)
    report = audit_epoch(c, netuid)
    assert report.epoch_block == epoch and report.max_diff == 0, report.table()
    assert {"StakeWeight", "Emission", "Active", "Bonds"} <= set(report.chain)
    assert c.stake(hot(0).ss58_address, BOB.ss58_address, netuid) == after.extra["stake_rao"][0]  # all on the subnet
    assert c.stake(hot(1).ss58_address) == 300 * TAO                                    # root stake: untouched,
    assert c.stake(hot(1).ss58_address, None, netuid) == after.extra["stake_rao"][1] - 300 * TAO > 0  # paid here
    with pytest.raises(UnsupportedError):              # only the latest epoch is kept
        audit_epoch(c, netuid, previous)


def _two_validators_two_epochs(c, **hp) -> int:
    """A subnet (these hyperparameters) where two validators disagree over two miners for three epochs."""
    netuid = subnet(c, tempo=6, weights_rate_limit=0, **hp)
    for i, coldkey in enumerate((BOB, CHARLIE, BOB, BOB)):
        c.register(netuid, hot(10 * netuid + i).ss58_address, coldkey)
    c.add_stake(BOB, hot(10 * netuid).ss58_address, 600 * TAO, netuid)
    c.add_stake(CHARLIE, hot(10 * netuid + 1).ss58_address, 400 * TAO, netuid)
    c.advance_blocks(7)                                          # permits
    for _ in range(3):
        c.set_weights(netuid, hot(10 * netuid), [2, 3], [60000, 5000])
        c.set_weights(netuid, hot(10 * netuid + 1), [2, 3], [5000, 60000])
        c.advance_blocks(7)
    return netuid


def test_yuma3_liquid_alpha_and_bonds_penalty_are_per_subnet_rules(dev_chain):
    """Four subnets, the same neurons and weights, different rules: each stores different bonds, and
    the audit recomputes each exactly under its own rules."""
    from chain.audit import audit_epoch

    c = dev_chain
    rules = [{}, {"yuma3": True}, {"bonds_penalty": 0}, {"yuma3": True, "liquid_alpha": True}]
    subnets = [_two_validators_two_epochs(c, **r) for r in rules]
    for netuid, r in zip(subnets, rules):
        hp = c.hyperparameters(netuid)
        assert all(getattr(hp, k) == v for k, v in r.items())
        report = audit_epoch(c, netuid)
        assert report.max_diff == 0 and report.chain["Bonds"].max() > 0, report.table()
    bonds = [c.metagraph(n).bonds[:2, 2:4].tolist() for n in subnets]
    assert len({str(b) for b in bonds}) == len(rules), bonds


def test_a_hyperparameter_the_epoch_cannot_run_with_is_refused(dev_chain):
    """The attack: an owner sets kappa or bonds_penalty above u16 (or bonds_moving_average above 1e6);
    stored, every later epoch would fail and the ledger would build no block again."""
    c = dev_chain
    netuid = subnet(c, tempo=2)
    c.register(netuid, hot(5).ss58_address, BOB)
    for name, bad in (("kappa", 65536), ("bonds_penalty", 70000), ("bonds_moving_average", 1_000_001),
                      ("alpha_sigmoid_steepness", 2**15), ("tempo", -1)):
        with pytest.raises(ChainError, match=f"{name} must be in"):
            c.set_hyperparameter(netuid, name, bad, ALICE)
    c.set_hyperparameter(netuid, "bonds_penalty", 65535, ALICE)
    head = c.block()
    assert c.advance_blocks(9) == head + 9 and c.epoch_record(netuid).block > head   # epochs still run


def test_stake_is_per_subnet_and_root_stake_counts_everywhere(dev_chain):
    c = dev_chain
    a, b = subnet(c, tempo=1000), subnet(c, tempo=1000)       # no epoch pays anything meanwhile
    v = hot(7).ss58_address
    c.register(a, v, BOB)
    c.add_stake(BOB, v, 50 * TAO, b)                 # on subnet b only
    assert c.metagraph(a).extra["stake_rao"][0] == 0
    c.add_stake(BOB, v, 20 * TAO)                    # root
    c.add_stake(BOB, v, 5 * TAO, a)
    assert c.metagraph(a).extra["stake_rao"][0] == 25 * TAO
    assert [c.stake(v, BOB.ss58_address, n) for n in (None, a, b)] == [20 * TAO, 5 * TAO, 50 * TAO]
    with pytest.raises(ChainError) as err:
        c.remove_stake(BOB, v, 6 * TAO, a)
    assert err.value.name == "NotEnoughStakeToWithdraw" and f"subnet {a}" in str(err.value)
    with pytest.raises(ChainError) as err:
        c.add_stake(BOB, v, TAO, 99)
    assert err.value.name == "SubNetworkDoesNotExist"
    c.remove_stake(BOB, v, 50 * TAO, b)
    assert c.stake(v, None, b) == 0 and issuance_matches(c.store.path)


def test_a_ledger_from_before_stake_per_subnet_opens_with_its_stake_as_root_stake(tmp_path):
    path = tmp_path / "old.sqlite"
    c = DevChain(str(path))
    c.register(subnet(c), hot(8).ss58_address, BOB)
    c.add_stake(BOB, hot(8).ss58_address, 9 * TAO)
    c.close()
    db = sqlite3.connect(path)                       # the old table: one stake per (hotkey, coldkey)
    db.executescript("ALTER TABLE stakes RENAME TO s; CREATE TABLE stakes (hotkey TEXT NOT NULL, coldkey TEXT "
                     "NOT NULL, amount INTEGER NOT NULL, PRIMARY KEY (hotkey, coldkey)); INSERT INTO stakes "
                     "SELECT hotkey, coldkey, amount FROM s; DROP TABLE s;")
    db.close()
    c = DevChain(str(path))
    try:
        assert c.stake(hot(8).ss58_address) == 9 * TAO and issuance_matches(str(path))
        c.add_stake(BOB, hot(8).ss58_address, TAO, 1)
        assert c.stake(hot(8).ss58_address, None, 1) == TAO
    finally:
        c.close()


def test_audit_detects_a_changed_stored_value(dev_chain):
    from chain.audit import audit_epoch

    c = dev_chain
    netuid = subnet(c, tempo=4)
    for i in range(3):
        c.register(netuid, hot(i).ss58_address, BOB)
    c.add_stake(BOB, hot(0).ss58_address, 50 * TAO)
    c.advance_blocks(6)
    c.set_weights(netuid, hot(0), [1, 2], [65535, 20000])
    c.advance_blocks(6)
    assert audit_epoch(c, netuid).max_diff == 0
    with c.store.write() as db:                          # tamper with the stored Emission of uid 1
        db.execute("UPDATE neurons SET emission = emission + 7 WHERE netuid=? AND uid=1", (netuid,))
        block, blob = db.execute("SELECT block, record FROM epochs WHERE netuid=?", (netuid,)).fetchone()
        from chain.dev.blocks import decode_record, encode_record
        rec = decode_record(blob)
        rec.stored["Emission"] = rec.stored["Emission"] + np.array([0, 7, 0])
        db.execute("UPDATE epochs SET record=? WHERE netuid=?", (encode_record(rec), netuid))
    report = audit_epoch(c, netuid)
    assert report.diffs["Emission"] == 7 and report.max_diff == 7
    assert "DIFFERS by up to 7 in Emission" in report.table()


def test_new_ledger_from_a_url_follows_the_wall_clock_with_local_subnets(tmp_path):
    """`dev:PATH` (what every command opens) makes blocks on its own; new subnets are local-friendly."""
    from chain.dev.ledger import DEFAULT_BLOCK_TIME
    from chain.local_subnet import LOCAL_SUBNET

    c = chain.connect(f"dev:{tmp_path / 'wall.sqlite'}")
    try:
        start = c.block()
        time.sleep(DEFAULT_BLOCK_TIME * 2.5)
        assert c.block() >= start + 2
        netuid = c.create_subnet(ALICE)
        hp = c.hyperparameters(netuid)
        assert {k: getattr(hp, k) for k in LOCAL_SUBNET} == LOCAL_SUBNET
        assert hp.tempo <= 20 and hp.weights_rate_limit < hp.tempo
        block = c.block()
        for i in range(3):                               # registrations back to back, in one block
            c.register(netuid, hot(i).ss58_address, BOB)
        assert c.metagraph(netuid).n == 3 and c.block() - block <= 2
    finally:
        c.close()
    manual = chain.connect(f"dev:{tmp_path / 'manual.sqlite'}?block_time=0")
    try:
        head = manual.block()
        time.sleep(0.3)
        assert manual.block() == head                    # manual blocks for unit tests
    finally:
        manual.close()


def test_metagraph_reads_in_a_few_queries(dev_chain):
    c = dev_chain
    netuid = subnet(c, max_registrations_per_block=100)
    for i in range(64):
        c.register(netuid, hot(i).ss58_address, BOB)
    statements: list[str] = []
    c.store.db.set_trace_callback(statements.append)
    mg = c.metagraph(netuid)
    c.store.db.set_trace_callback(None)
    assert mg.n == 64 and mg.weights.shape == (64, 64)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM meta" not in s]
    assert len(reads) <= 3, reads


def test_url_options_and_real_time_blocks(tmp_path):
    path = tmp_path / "rt.sqlite"
    with pytest.raises(ChainError, match="unknown dev ledger option"):
        chain.connect(f"dev:{path}?speed=3")
    a = chain.connect(f"dev:{path}?block_time=0.05")
    b = chain.connect(f"dev:{path}")                   # a second opener inherits the stored block time
    try:
        start = a.block()
        time.sleep(0.4)
        assert b.block() >= start + 5
        netuid = a.create_subnet(ALICE)                 # lands in the current block: no extra block
        assert netuid in b.subnets()
        head = b.advance_blocks(100)
        assert a.block() >= head
    finally:
        a.close()
        b.close()


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from substrateinterface import Keypair
    from chain.dev import DevChain
    c = DevChain({path!r})
    bob, alice = Keypair.create_from_uri('//Bob'), Keypair.create_from_uri('//Alice')
    if not c.subnets():
        c.set_hyperparameter(c.create_subnet(alice), 'tempo', 2, alice)  # epochs run between the kills too
    netuid = c.subnets()[0]
    i = 0
    while True:
        hk = Keypair.create_from_uri(f'//{tag}{{i}}')
        c.register(netuid, hk.ss58_address, bob)
        c.add_stake(bob, hk.ss58_address, 10**9)
        c.advance_blocks(3)
        i += 1
        print(c.block(), i, flush=True)
""")


def _writer(path, tag: str = "W") -> subprocess.Popen:
    code = WRITER.format(repo=REPO, path=str(path), tag=tag)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_loses_no_committed_block(tmp_path):
    path = tmp_path / "crash.sqlite"
    DevChain(str(path)).close()
    for round_ in range(3):                             # kill at different moments
        proc = _writer(path, tag=f"R{round_}-")
        seen = registered = 0
        try:
            for _ in range(5 + 7 * round_):
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                seen, registered = map(int, line.split())
            time.sleep(0.01 * round_)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        c = DevChain(str(path))
        try:
            assert c.block() >= seen
            mg = c.metagraph(c.subnets()[0])
            assert list(mg.uids) == list(range(mg.n))
            mine = [K(f"//R{round_}-{i}").ss58_address for i in range(registered)]
            assert set(mine) <= set(mg.hotkeys)             # every acknowledged registration survived
            assert all(c.stake(h) >= TAO for h in mine)
            assert mg.validator_permit.any()                # epochs ran between the kills
            assert issuance_matches(str(path))
        finally:
            c.close()


def test_processes_share_one_ledger(tmp_path):
    path = tmp_path / "shared.sqlite"
    c = DevChain(str(path))
    netuid = subnet(c, max_registrations_per_block=100)
    procs = [_writer(path, tag=t) for t in ("A", "B")]
    try:
        for p in procs:
            for _ in range(6):
                assert p.stdout.readline(), p.stderr.read()
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    mg = c.metagraph(netuid)
    tags = {h for h in mg.hotkeys}
    assert mg.n >= 12 and len(tags) == mg.n                   # unique uids for both writers' hotkeys
    assert {K("//A0").ss58_address, K("//B0").ss58_address} <= tags
    assert issuance_matches(str(path))
    c.close()
