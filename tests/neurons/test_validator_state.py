"""ValidatorState persistence: round trip, atomic save under kill -9, corrupt-file fallback."""
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from neurons.config.schema import GateSection, NeuronConfig
from neurons.validator.moe import MoE
from neurons.validator.state import StateCorruptError, StateStore, ValidatorState, read_state
from validator_fakes import FakeMiner, FakeSpec, one_torch_thread, run_steps  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO = Path(__file__).resolve().parents[2]


def trained_moe(steps=5):
    moe = MoE(4, ["a", "b", "c"], NeuronConfig(gate=GateSection(top_k=2, explore=1)), seed=3)
    run_steps(moe, FakeSpec(), [FakeMiner(s, seed=i) for i, s in enumerate([0.1, 0.5, 1.0])], steps)
    return moe


def test_missing_state_loads_as_none(tmp_path):
    assert StateStore(tmp_path / "nothing").load() is None


def test_round_trip_restores_gate_optimizer_scores_and_routing(tmp_path):
    moe = trained_moe()
    store = StateStore(tmp_path)
    store.save(ValidatorState(moe=moe.state_dict(), step=5, last_weights_block=1234, last_seed=99))
    loaded = store.load()
    assert (loaded.step, loaded.last_weights_block, loaded.last_seed) == (5, 1234, 99)
    again = MoE.from_state_dict(loaded.moe, moe.config)
    assert again.hotkeys == moe.hotkeys and torch.equal(again.scores, moe.scores)
    for a, b in zip(moe.trainer.gate.parameters(), again.trainer.gate.parameters()):
        assert torch.equal(a, b)
    # both continue identically: same routing noise, same Adam moments
    spec, miners = FakeSpec(), [FakeMiner(s, seed=7) for s in (0.1, 0.5, 1.0)]
    ra = run_steps(moe, spec, miners, 3, seed0=50)
    miners = [FakeMiner(s, seed=7) for s in (0.1, 0.5, 1.0)]
    rb = run_steps(again, spec, miners, 3, seed0=50)
    assert all(torch.equal(x.uids, y.uids) and torch.allclose(x.weights, y.weights) for x, y in zip(ra, rb))


def test_each_save_keeps_the_previous_state(tmp_path):
    moe, store = trained_moe(), StateStore(tmp_path)
    for step in (1, 2, 3):
        store.save(ValidatorState(moe=moe.state_dict(), step=step))
    assert read_state(store.path).step == 3 and read_state(store.prev_path).step == 2


def test_corrupt_state_falls_back_to_the_previous_one(tmp_path, caplog):
    moe, store = trained_moe(), StateStore(tmp_path)
    store.save(ValidatorState(moe=moe.state_dict(), step=1))
    store.save(ValidatorState(moe=moe.state_dict(), step=2))
    data = store.path.read_bytes()
    store.path.write_bytes(data[: len(data) // 2])  # truncated
    with caplog.at_level(logging.WARNING):
        state = store.load()
    assert state.step == 1
    assert len(caplog.records) == 1 and "resumed from state.prev.pt at step 1" in caplog.text
    assert (tmp_path / "state.pt.corrupt").exists()
    store.save(ValidatorState(moe=moe.state_dict(), step=3))  # the bad file is never rotated into prev
    assert read_state(store.path).step == 3 and read_state(store.prev_path).step == 1


@pytest.mark.parametrize("damage", ["garbage", "pickle", "inconsistent", "wrong_type"])
def test_damaged_files_raise_a_typed_error(tmp_path, damage):
    moe, store = trained_moe(), StateStore(tmp_path)
    store.save(ValidatorState(moe=moe.state_dict(), step=1))
    good = ValidatorState(moe=moe.state_dict(), step=1).to_dict()
    if damage == "garbage":
        store.path.write_bytes(os.urandom(500))
    elif damage == "pickle":  # arbitrary objects are refused by weights_only loading
        torch.save({"format": 1, "obj": FakeSpec()}, store.path)
    elif damage == "inconsistent":  # scores for 2 uids, gate for 3
        good["moe"]["scores"] = torch.zeros(2)
        torch.save(good, store.path)
    else:
        good["step"] = "seven"
        torch.save(good, store.path)
    with pytest.raises(StateCorruptError):
        read_state(store.path)
    with pytest.raises(StateCorruptError) as e:  # no previous file to fall back on
        store.load()
    assert e.value.hint and store.path.exists()  # nothing is deleted when there is no fallback


CHILD = r"""
import sys, torch
torch.set_num_threads(1)
from neurons.validator.moe import MoE
from neurons.validator.state import StateStore, ValidatorState
store = StateStore(sys.argv[1])
state = store.load()
moe = MoE(8, [f"hk{i}" for i in range(256)]) if state is None else MoE.from_state_dict(state.moe)
step = 0 if state is None else state.step
print("ready", step, flush=True)
while True:
    step += 1
    moe.scores.fill_(float(step))
    store.save(ValidatorState(moe=moe.state_dict(), step=step, last_seed=step))
"""


def test_save_is_atomic_under_kill_9(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rng, last = random.Random(0), 0
    for _ in range(2):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                                 text=True, env=env)
        try:
            line = child.stdout.readline().split()
            assert line[0] == "ready" and int(line[1]) == last  # resumed where the killed one stopped
            time.sleep(rng.uniform(0.05, 0.4))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        state = read_state(tmp_path / "state.pt")  # strict: the current file itself is whole
        assert state.step > last and state.last_seed == state.step
        assert torch.all(state.moe["scores"] == state.step)
        assert read_state(tmp_path / "state.prev.pt").step in (state.step - 1, state.step)
        last = state.step
    StateStore(tmp_path).load()
    assert not list(tmp_path.glob(".state.*.tmp"))  # a killed writer's temp files are cleaned up
