"""The validator SIGKILLed over and over on a commit-reveal subnet: no lost reveal, no double commit.

Real processes on a real-time dev ledger (a block every 0.2 s, tempo 60, reveal period 1 epoch): two
`neuron miner`s and the `neuron validator`, killed at random instants and right after its
"weights committed" / "weights revealed" lines, then restarted on the same state directory. A thread
reads the ledger's commit table throughout. At the end: the validator never had two commits live at
once (a double commit), every commit whose reveal window has closed was revealed inside its window
(none lost, none left to expire), and at least two were revealed (the test checked something).
A validator that stays down for a whole reveal window loses that reveal on any chain, so the window
here is longer than a restart. CI: 4 cycles; `--long` / OPENSUBNET_LONG=1: 30.
The same on the real subtensor runtime (spec 293 under Chopsticks): test_validator_kill_commit_reveal_293.py.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import time

from harness import CommitWatch, DevSubnet, kill_cycles, long_mode
from neurons.localsubnet.plan import NeuronPlan

BLOCK_TIME = 0.2
TEMPO = 60            # a 12 s reveal window: longer than a validator restart (~9 s on a loaded 2-core machine)
PERIOD = 1


def ledger_commits(path: str, netuid: int, hotkey: str):
    """CommitWatch reader of the ledger file's commits of one hotkey (at its head)."""
    def open_reader():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)

        def read():
            try:
                head = int(db.execute("SELECT value FROM meta WHERE key='head'").fetchone()[0])
                rows = dict(db.execute("SELECT hash, block FROM commits WHERE netuid=? AND hotkey=?",
                                       (netuid, hotkey)).fetchall())
            except sqlite3.OperationalError:     # the writer holds the file: try again
                return []
            return [(head, {h: int(b) for h, b in rows.items()})]
        return read, db.close
    return open_reader


def test_validator_sigkill_on_commit_reveal_loses_and_duplicates_nothing(tmp_path, request):
    cycles = 30 if long_mode(request.config) else 4
    rng = random.Random(int(os.environ.get("OPENSUBNET_SEED", "11")))
    plan = [NeuronPlan("validator", "validator", stake_tao=1000), NeuronPlan("miner", "m-bow"),
            NeuronPlan("miner", "m-random")]
    sub = DevSubnet(tmp_path, plan, hyperparameters={"weights_rate_limit": 5, "commit_reveal_enabled": True,
                                                     "commit_reveal_period": PERIOD},
                    block_time=BLOCK_TIME, tempo=TEMPO)
    watch = None
    try:
        sub.start_miner("m-bow", "bow")
        sub.start_miner("m-random", "random")
        sub.wait_serving(["m-bow", "m-random"])
        hotkey = sub.chain.metagraph(sub.netuid).hotkeys[sub.uids["validator"]]
        watch = CommitWatch(ledger_commits(str(sub.path), sub.netuid, hotkey), sub.netuid, TEMPO, PERIOD)
        args = ["--validator.weights_interval_blocks", str(TEMPO + 1), "--validator.batch_size", "4",
                "--gate.top_k", "2", "--dendrite.timeout_s", "3"]

        def start(log_name):
            return sub.start_validator("validator", args, pause=0.05, log_name=log_name)
        logs = kill_cycles(start, cycles, rng)
        # one last run, long enough to reveal what the last kill left pending
        child = start("validator-final")
        logs.append(child.log_path)
        time.sleep(2 * (TEMPO + 1) * BLOCK_TIME + 5)
        os.killpg(child.proc.pid, signal.SIGTERM)
        child.proc.wait(timeout=20)
        end = sub.chain.block()
        watch.stop()
    finally:
        if watch is not None:
            watch.stop()
        sub.close()
    assert watch.error is None, f"the commit watch failed: {watch.error!r}"
    text = "".join(p.read_text(errors="replace") for p in logs)
    closed, lost = watch.verdict(end)
    assert watch.max_live <= 1, f"two commits were live at once ({watch.max_live}): a double commit"
    assert not lost, f"commits never revealed in their window: {lost} of {closed}"
    assert len(closed) >= 2, f"only {len(closed)} commits went through their window: the test checked little\n{text[-3000:]}"
    print(f"{cycles} kill cycles, {len(watch.first_seen)} commits, {len(closed)} revealed in their window, "
          f"none lost or doubled")
