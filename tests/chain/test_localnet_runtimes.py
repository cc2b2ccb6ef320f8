"""`neuron localnet` with the 2025 runtime (spec 293, a plain spec): the raw genesis built by the
runtime itself (deterministic), the Aura slot read from the runtime, `start --runtime 293`, `status`
with spec version and head, and a restart on the same port. Skips, saying what is missing and how
to get it, without Chopsticks or the spec."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from chain.localnet import chopsticks, genesis, process
from chain.localnet.spec import KNOWN, SPEC293, find_spec, is_plain, sha256_of

REAL_CACHE = Path.home() / ".cache" / "opensubnet"


@pytest.fixture
def cache293(tmp_path, monkeypatch):
    """A private cache with the real Chopsticks install and chain specs linked in."""
    spec = REAL_CACHE / "chainspecs" / SPEC293.filename
    if not spec.is_file():
        pytest.skip(f"needs the spec-293 chain spec at {spec}: see `neuron localnet fetch` "
                    f"({SPEC293.path} at commit {SPEC293.commit[:8]} of github.com/{SPEC293.repo})")
    if not chopsticks.installed(REAL_CACHE / "chopsticks"):
        pytest.skip(f"needs Chopsticks in {REAL_CACHE / 'chopsticks'}: run `neuron localnet start` once (npm install)")
    cache = tmp_path / "cache"
    (cache / "chainspecs").mkdir(parents=True)
    (cache / "chopsticks").symlink_to(REAL_CACHE / "chopsticks")
    (cache / "chainspecs" / SPEC293.filename).symlink_to(spec)
    monkeypatch.setenv("OPENSUBNET_CACHE", str(cache))
    monkeypatch.delenv("OPENSUBNET_CHAIN_SPEC", raising=False)
    return cache


def test_known_specs_say_where_they_come_from(capsys):
    from neurons.cli import localnet as cli

    assert set(KNOWN) == {148, 293} and all(len(s.sha256) == 64 and s.repo and s.commit and s.path for s in KNOWN.values())
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(["fetch"])) == 0
    out = capsys.readouterr().out
    for s in KNOWN.values():
        assert s.repo in out and s.commit in out and s.path in out and s.sha256 in out


def test_plain_spec_gets_a_deterministic_raw_genesis_and_the_runtime_slot(cache293):
    plain = find_spec(runtime=293)
    assert sha256_of(plain) == SPEC293.sha256 and is_plain(json.loads(plain.read_text()))
    raw = genesis.raw_spec(plain)
    top = json.loads(raw.read_text())["genesis"]["raw"]["top"]
    assert top["0x" + b":code".hex()] == json.loads(plain.read_text())["genesis"]["runtimeGenesis"]["code"]
    assert len(top) > 50
    first = sha256_of(raw)
    raw.unlink()
    assert sha256_of(genesis.raw_spec(plain)) == first           # the same input, the same raw spec
    assert genesis.raw_spec(raw) == raw                          # a raw spec is used as is
    assert genesis.slot_duration_ms(raw) == 1000                 # not Chopsticks' 12 s fallback


@pytest.mark.localnet
def test_start_293_status_and_restart_on_the_same_port(cache293, capsys):
    from neurons.cli import localnet as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    port = process.free_port()
    try:
        for _ in range(2):                                       # start, stop, start again on the same port
            assert cli.run(parser.parse_args(["start", "--runtime", "293", "--port", str(port), "--no-install"])) == 0
            assert f"ws://127.0.0.1:{port}" in capsys.readouterr().out
            assert cli.run(parser.parse_args(["status"])) == 0
            out = capsys.readouterr().out
            assert "runtime spec 293" in out and "head #" in out, out
            assert cli.run(parser.parse_args(["stop"])) == 0
    finally:
        process.stop()
    assert cli.run(parser.parse_args(["status"])) == 1
