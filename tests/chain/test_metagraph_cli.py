"""`neuron metagraph` on a dev ledger with one epoch behind it: the table and the JSON."""
from __future__ import annotations

import json

import pytest
from substrateinterface import Keypair

from chain.dev import DevChain
from chain.types import RAO_PER_TAO as TAO
from neurons.cli.main import main

K = Keypair.create_from_uri


@pytest.fixture
def ledger(tmp_path):
    path = str(tmp_path / "cli.sqlite")
    c = DevChain(path)
    netuid = c.create_subnet(K("//Alice"))
    for name, value in {"tempo": 5, "weights_rate_limit": 0, "commit_reveal_enabled": False}.items():
        c.set_hyperparameter(netuid, name, value, K("//Alice"))
    for i in range(3):
        c.register(netuid, K(f"//Hot{i}").ss58_address, K("//Bob"))
    c.add_stake(K("//Bob"), K("//Hot0").ss58_address, 50 * TAO)
    c.serve_axon(netuid, K("//Hot2"), "127.0.0.2", 8091)
    c.advance_blocks(7)
    c.set_weights(netuid, K("//Hot0"), [1, 2], [65535, 20000])
    c.advance_blocks(7)
    c.close()
    return path, netuid


def test_metagraph_table(ledger, capsys):
    path, netuid = ledger
    assert main(["metagraph", "--chain", f"dev:{path}", "--netuid", str(netuid), "--sort", "incentive"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"subnet {netuid} on dev:{path} at block") and "3 uids" in out[0]
    assert out[1].split()[:4] == ["UID", "STAKE", "CONSENSUS", "INCENTIVE"]
    assert [line.split()[0] for line in out[2:5]] == ["1", "2", "0"]       # most incentive first
    assert "127.0.0.2:8091" in out[3]


def test_metagraph_json_and_errors(ledger, capsys):
    path, netuid = ledger
    assert main(["metagraph", "--chain", f"dev:{path}", "--netuid", str(netuid), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 3 and data["neurons"][0]["permit"] and data["neurons"][1]["incentive"] > 0.5
    assert data["neurons"][0]["stake"] >= 50
    assert main(["metagraph", "--chain", f"dev:{path}", "--netuid", "42"]) == 2
    assert "subnet 42 does not exist" in capsys.readouterr().err
