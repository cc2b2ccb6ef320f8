"""Fault injection: a validator step against miners that hang, crash, lie or break the connection.

Every miner is a separate process (the real `neuron miner`, the FakeModel axons of faulty_miner.py,
the transport faults of raw_servers.py) on a shared dev ledger; the validator is the real
`Validator` with the real dendrite, in this process so its results can be read directly.
Each step must finish within the dendrite deadline plus a small slack, give each faulty miner its
own ReturnCode and a score of 0, and raise nothing.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from harness import DevSubnet, hotkey_of
from neurons.config.schema import NeuronConfig
from neurons.dendrite import Dendrite
from neurons.localsubnet.plan import NeuronPlan
from neurons.validator.loop import Validator
from protocol.codes import ReturnCode
from subnets.text_embedding import TextEmbedding

RC = ReturnCode
AXON_FAULTS = {  # FakeModel behind the real Axon (faulty_miner.py) -> the code the validator must see
    "hang": RC.TIMEOUT, "shape": RC.INVALID_RESPONSE, "dtype": RC.INVALID_RESPONSE, "nan": RC.INVALID_RESPONSE,
    "huge": RC.INVALID_RESPONSE, "raises": RC.SERVER_ERROR, "impostor": RC.INVALID_RESPONSE,
}
TRANSPORT_FAULTS = {  # raw_servers.py
    "drop": RC.UNAVAILABLE, "midstream": RC.UNAVAILABLE, "blackhole": RC.TIMEOUT,
    "garbage": RC.INVALID_RESPONSE, "abort": RC.UNAVAILABLE,
}
TIMEOUT_S = 2.5
SLACK_S = 1.5   # challenge, features, gate training and scoring on a loaded 2-core machine


class RecordingDendrite(Dendrite):
    """The real dendrite, keeping the results of its last query for the test to read."""
    last: list | None = None

    async def query(self, *args, **kwargs):
        self.last = await super().query(*args, **kwargs)
        return self.last


@pytest.fixture
def subnet(tmp_path):
    names = ["good", "die", *AXON_FAULTS, *TRANSPORT_FAULTS]
    plan = [NeuronPlan("validator", "validator", stake_tao=1000)] + [NeuronPlan("miner", n) for n in names]
    sub = DevSubnet(tmp_path, plan)
    try:
        yield sub
    finally:
        sub.close()


def test_validator_step_survives_every_faulty_miner(subnet, tmp_path):
    sub = subnet
    args = ["--chain", sub.url, "--netuid", str(sub.netuid)]
    sub.start_miner("good", "bow")
    sub.start_script("faulty", "faulty_miner.py", args + [f"{f}={f}" for f in AXON_FAULTS])
    sub.start_script("dying", "faulty_miner.py", args + ["die=die"])
    sub.start_script("raw", "raw_servers.py", args + [f"{f}={f}" for f in TRANSPORT_FAULTS])
    expected = {"good": RC.SUCCESS, "die": RC.UNAVAILABLE, **AXON_FAULTS, **TRANSPORT_FAULTS}
    sub.wait_serving(list(expected))

    n = len(expected)
    cfg = NeuronConfig(chain={"url": sub.url, "netuid": sub.netuid}, subnet={"name": "text-embedding"},
                       dendrite={"timeout_s": TIMEOUT_S},
                       validator={"state_dir": str(tmp_path / "state"), "batch_size": 8},
                       gate={"top_k": n, "explore": 0})
    spec = TextEmbedding()
    spec.challenge(0, 1)  # load the corpus once, as a running validator already has: not part of a step
    validator = Validator(cfg, spec=spec, hotkey=hotkey_of("validator"), chain=sub.chain)

    async def steps():
        took, seen = [], []
        async with RecordingDendrite(validator.hotkey) as d:
            for _ in range(2):  # the second step meets the crashed miner's closed port
                t0 = time.monotonic()
                await validator.step(d)
                took.append(time.monotonic() - t0)
                seen.append({r.uid: r for r in d.last})
        return took, seen

    took, seen = asyncio.run(steps())
    by_uid = {sub.uids[name]: name for name in expected}
    for u, r in sorted(seen[0].items()):  # shown with -s; bench/results_reliability.md quotes it
        print(f"| {by_uid[u]} | {r.code.name} | {r.latency_s * 1e3:.0f} ms | {r.message[:90]} |")
    print(f"step wall times: {', '.join(f'{t:.2f}s' for t in took)} (deadline {TIMEOUT_S}s)")
    for i, results in enumerate(seen):
        assert set(results) == set(by_uid), f"step {i} queried {sorted(results)}, expected every miner"
        got = {by_uid[u]: r.code for u, r in results.items()}
        assert got == expected, "\n".join(f"{by_uid[u]}: {r!r}" for u, r in results.items())
        assert took[i] < TIMEOUT_S + SLACK_S, f"step {i} took {took[i]:.1f}s"
    scores = validator.moe.scores
    for name, code in expected.items():
        if code != RC.SUCCESS:
            assert scores[sub.uids[name]] == 0, f"{name} scored {float(scores[sub.uids[name]])}"
    assert scores[sub.uids["good"]] > 0
    assert validator.state.step == 2 and validator.store.path.exists()
    assert not [c.name for c in sub.children.dead() if c.name != "dying"]  # only the miner meant to die died
