"""The validator SIGKILLed at random points over many cycles, restarted each time on the same state.

Real processes on a real-time dev ledger (a block every 0.1 s): two `neuron miner`s and the
`neuron validator`, whose weights interval equals the chain's weights_rate_limit, so after a kill
between an accepted set_weights and the state save only the restart logic stands between it and a
second submission inside the rate limit (every other kill lands right after a "weights set" log
line and then rolls the state file back to the one before, as if the kill came before that step's
save; the other kills come at random times). Checked after every kill: the state file loads (never
corrupt), it holds the last finished step, and the restart resumes exactly there. At the end: no two
accepted set_weights closer than the rate limit (the ledger's LastUpdate, watched throughout) and
no submission the chain refused as too fast. CI: 5 cycles; `--long` / OPENSUBNET_LONG=1: 50.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import signal
import threading
import time

from chain.dev import DevChain
from harness import DevSubnet, long_mode
from neurons.localsubnet.plan import NeuronPlan
from neurons.validator.state import read_state

RATE_LIMIT = 50       # blocks (5 s) between accepted set_weights (chain) = the validator's interval: longer than a restart
BLOCK_TIME = 0.1


class LastUpdateWatch:
    """Polls the ledger's LastUpdate of one uid in a thread; records every change (block values)."""

    def __init__(self, path: str, netuid: int, uid: int):
        self.chain, self.netuid, self.uid = DevChain(path), netuid, uid
        self.values: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            v = int(self.chain.metagraph(self.netuid).last_update[self.uid])
            if not self.values or v != self.values[-1]:
                self.values.append(v)
            time.sleep(0.02)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        self.chain.close()
        return self.values


def _steps(text: str) -> list[int]:
    return [int(s) for s in re.findall(r"step (\d+) seed", text)]


def test_validator_sigkill_cycles_resume_without_double_weights(tmp_path, request):
    cycles = 50 if long_mode(request.config) else 5
    rng = random.Random(int(os.environ.get("OPENSUBNET_SEED", "7")))
    plan = [NeuronPlan("validator", "validator", stake_tao=1000), NeuronPlan("miner", "m-bow"),
            NeuronPlan("miner", "m-random")]
    sub = DevSubnet(tmp_path, plan, hyperparameters={"weights_rate_limit": RATE_LIMIT, "commit_reveal_enabled": False},
                    block_time=BLOCK_TIME, tempo=10)   # direct set_weights (commit-reveal: test_validator_kill_commit_reveal.py)
    watch = None
    try:
        sub.start_miner("m-bow", "bow")
        sub.start_miner("m-random", "random")
        sub.wait_serving(["m-bow", "m-random"])
        registered_at = int(sub.chain.metagraph(sub.netuid).last_update[sub.uids["validator"]])
        watch = LastUpdateWatch(str(sub.path), sub.netuid, sub.uids["validator"])
        args = ["--validator.weights_interval_blocks", str(RATE_LIMIT), "--validator.batch_size", "4",
                "--gate.top_k", "2", "--dendrite.timeout_s", "3"]
        saved_step, saved_weights_block, logs = None, None, []
        for cycle in range(cycles):
            child = sub.start_validator("validator", args, pause=0.05, log_name=f"validator-{cycle}")
            logs.append(child.log_path)
            deadline = time.monotonic() + 60
            while not _steps(child.log_path.read_text(errors="replace")):   # alive and stepping
                assert child.alive(), child.tail(30)
                assert time.monotonic() < deadline, child.tail(30)
                time.sleep(0.05)
            text = child.log_path.read_text(errors="replace")
            if saved_step is not None:
                resumed = re.search(r"resumed at step (\d+) \(last weights at block (-?\d+)\)", text)
                assert resumed and int(resumed.group(1)) == saved_step, text[-2000:]
                assert int(resumed.group(2)) == saved_weights_block
            if cycle % 2:  # the dangerous point: weights just accepted, the state maybe not yet saved
                while "weights set" not in child.log_path.read_text(errors="replace")[len(text):]:
                    assert child.alive() and time.monotonic() < deadline, child.tail(30)
                    time.sleep(0.002)
            else:
                time.sleep(rng.uniform(0.0, 1.5))                           # a random point of its work
            os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
            text = child.log_path.read_text(errors="replace")
            assert "Traceback" not in text, text[-3000:]
            state_files = list((tmp_path / "state").glob("*/state.pt"))
            assert not list((tmp_path / "state").glob("*/*.corrupt"))
            last_logged = max(_steps(text))
            if not state_files:  # killed between the very first step's log line and its save
                assert saved_step is None and last_logged == 0
                continue
            state = read_state(state_files[0])                              # raises if corrupt
            assert state.step in (last_logged, last_logged + 1), (state.step, last_logged)
            prev = state_files[0].with_name("state.prev.pt")
            if cycle % 2 and prev.exists() and not prev.samefile(state_files[0]):
                rolled = state_files[0].with_name("rolled-back.tmp")   # as if killed before that step's save:
                shutil.copyfile(prev, rolled)                          # the chain is ahead of the state file
                os.replace(rolled, state_files[0])
                state = read_state(state_files[0])
            saved_step, saved_weights_block = state.step, state.last_weights_block
        accepted = [v for v in watch.stop() if v != registered_at]
        watch = None
    finally:
        if watch is not None:
            watch.stop()
        sub.close()
    text = "".join(p.read_text(errors="replace") for p in logs)
    assert accepted, "the validator never set weights: the test checked nothing"
    seq = ([registered_at] if registered_at else []) + accepted  # LastUpdate 0 means "never set"
    gaps = [b - a for a, b in zip(seq, seq[1:])]
    assert all(g >= RATE_LIMIT for g in gaps), f"set_weights accepted at blocks {accepted} (gaps {gaps})"
    too_fast = [line for line in text.splitlines() if "weights rejected" in line]
    assert not too_fast, too_fast
    print(f"{cycles} kill cycles, {len(accepted)} accepted set_weights at blocks {accepted}, "
          f"{text.count('too soon')} submissions held back by the pre-check (chain ahead of the state file)")
