"""The validator SIGKILLed over and over on a commit-reveal subnet: no lost reveal, no double commit.

Real processes on a real-time dev ledger (a block every 0.2 s, tempo 60, reveal period 1 epoch): two
`neuron miner`s and the `neuron validator`, killed at random instants and right after its
"weights committed" / "weights revealed" lines, then restarted on the same state directory. A thread
reads the ledger's commit table throughout. At the end: the validator never had two commits live at
once (a double commit), every commit whose reveal window has closed was revealed inside its window
(none lost, none left to expire), and at least two were revealed (the test checked something).
A validator that stays down for a whole reveal window loses that reveal on any chain, so the window
here is longer than a restart. CI: 4 cycles; `--long` / OPENSUBNET_LONG=1: 30.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time

from harness import DevSubnet, long_mode
from chain.weights import reveal_epoch
from neurons.localsubnet.plan import NeuronPlan

BLOCK_TIME = 0.2
TEMPO = 60            # a 12 s reveal window: longer than a validator restart (~9 s on a loaded 2-core machine)
PERIOD = 1


class CommitWatch:
    """Polls the ledger file's commits of one hotkey: when each appeared, when it went, at what head."""

    def __init__(self, path: str, netuid: int, hotkey: str):
        self.path, self.netuid, self.hotkey = path, netuid, hotkey
        self.first_seen: dict[str, int] = {}       # hash -> commit block
        self.gone_after: dict[str, int] = {}       # hash -> last head at which it was still there
        self.max_live = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _head(self, db) -> int:
        return int(db.execute("SELECT value FROM meta WHERE key='head'").fetchone()[0])

    def _run(self):
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        live: dict[str, int] = {}
        last_head = 0
        while not self._stop.is_set():
            try:
                head = self._head(db)
                rows = dict(db.execute("SELECT hash, block FROM commits WHERE netuid=? AND hotkey=?",
                                       (self.netuid, self.hotkey)).fetchall())
            except sqlite3.OperationalError:     # the writer holds the file: try again
                time.sleep(0.01)
                continue
            for h in set(live) - set(rows):
                self.gone_after[h] = last_head
            for h, b in rows.items():
                self.first_seen.setdefault(h, int(b))
            open_ = [h for h, b in rows.items() if reveal_epoch(head, self.netuid, TEMPO) <= reveal_epoch(b, self.netuid, TEMPO) + PERIOD]
            self.max_live = max(self.max_live, len(open_))
            live, last_head = rows, head
            time.sleep(0.01)
        db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


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
        watch = CommitWatch(str(sub.path), sub.netuid, hotkey)
        args = ["--validator.weights_interval_blocks", str(TEMPO + 1), "--validator.batch_size", "4",
                "--gate.top_k", "2", "--dendrite.timeout_s", "3"]
        logs = []
        for cycle in range(cycles):
            child = sub.start_validator("validator", args, pause=0.05, log_name=f"validator-{cycle}")
            logs.append(child.log_path)
            deadline = time.monotonic() + 90
            marker = ("weights committed", "weights revealed", None, "weights committed")[cycle % 4]
            while "seed" not in child.log_path.read_text(errors="replace"):      # alive and stepping
                assert child.alive() and time.monotonic() < deadline, child.tail(30)
                time.sleep(0.05)
            if marker:        # the dangerous instants: right after an extrinsic and its record
                while marker not in child.log_path.read_text(errors="replace"):
                    assert child.alive() and time.monotonic() < deadline, child.tail(30)
                    time.sleep(0.002)
            else:
                time.sleep(rng.uniform(0.0, 2.0))
            os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
            assert "Traceback" not in child.log_path.read_text(errors="replace"), child.tail(40)
        # one last run, long enough to reveal what the last kill left pending
        child = sub.start_validator("validator", args, pause=0.05, log_name="validator-final")
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
    text = "".join(p.read_text(errors="replace") for p in logs)
    closed = {h: b for h, b in watch.first_seen.items()
              if reveal_epoch(end, sub.netuid, TEMPO) > reveal_epoch(b, sub.netuid, TEMPO) + PERIOD}
    lost = [h for h, b in closed.items() if h not in watch.gone_after
            or reveal_epoch(watch.gone_after[h], sub.netuid, TEMPO) > reveal_epoch(b, sub.netuid, TEMPO) + PERIOD]
    assert watch.max_live <= 1, f"two commits were live at once ({watch.max_live}): a double commit"
    assert not lost, f"commits never revealed in their window: {lost} of {closed}"
    assert len(closed) >= 2, f"only {len(closed)} commits went through their window: the test checked little\n{text[-3000:]}"
    print(f"{cycles} kill cycles, {len(watch.first_seen)} commits, {len(closed)} revealed in their window, "
          f"none lost or doubled")
