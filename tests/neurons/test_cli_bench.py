"""`neuron bench`'s advice: what it tells a miner to run from the measured ratio, and the one rule it
shares with the miner (`batching_enabled`: what --miner.batching auto does on a device)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neurons.batching import batching_enabled
from neurons.cli.bench import GAIN, advice
from neurons.loadtest import MODES, LoadTest, LoadTestError, check

TEMPLATE = str(Path(__file__).resolve().parents[2] / "subnets" / "template.py")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("ratio", [0.5, 1.0, GAIN - 0.01, GAIN, 3.0])
def test_advice_follows_the_measurement_and_names_the_change_only_when_auto_is_wrong(device, ratio):
    line = advice(device, ratio, p99_ms=100.0, deadline_s=12.0)
    pays = ratio >= GAIN
    auto_on = batching_enabled("auto", torch.device(device))
    assert f"{ratio:.2f}×" in line
    if pays == auto_on:
        assert line.endswith("keep it") and "neuron miner" not in line
    else:
        assert line.endswith(f"--miner.batching {'on' if pays else 'off'}`")


def test_a_batched_p99_past_the_deadline_never_pays():
    line = advice("cuda", 5.0, p99_ms=12_500.0, deadline_s=12.0)
    assert "misses the 12 s deadline" in line and line.endswith("--miner.batching off`")


def test_check_refuses_unknown_models_devices_and_empty_runs_before_any_process():
    with pytest.raises(LoadTestError, match="no model 'nope'.*minilm"):
        check(LoadTest("text-embedding", {"model": "nope"}))
    for bad in ({"validators": 0}, {"validators": 10_000}, {"rows": 0}, {"seconds": 0}):
        with pytest.raises(LoadTestError, match="--validators must be 1..256"):
            check(LoadTest("text-embedding", {"model": "bow"}, **bad))
    if not torch.cuda.is_available():
        with pytest.raises(LoadTestError, match="no CUDA device"):
            check(LoadTest("text-embedding", {"model": "bow", "device": "cuda"}))


def test_only_a_subnet_whose_rows_merge_gets_a_batched_miner():
    assert check(LoadTest("text-embedding", {"model": "bow"})) == MODES
    assert check(LoadTest(TEMPLATE, {"model": "exact"})) == ("unbatched",)
