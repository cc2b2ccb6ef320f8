"""`neuron query` end to end: miners (bow, random) and one validator with its API on, each a process
started by neurons/localsubnet on the dev ledger; the command finds the API on chain and prints the answer,
or asks a validator named by address, and refuses an answer not signed by the hotkey it was told."""
from __future__ import annotations

import re
import subprocess
import sys
import time

from substrateinterface import Keypair

from chain.dev import DevChain
from neurons.cli.main import main
from neurons.localsubnet.plan import default_plan
from neurons.localsubnet.procs import Children
from neurons.localsubnet.runner import LocalSubnet
from neurons.validator.api import API_PROTOCOL

TEXTS = ["read the whole file and return its bytes", "open a tcp socket to a host", "return the file's bytes"]


def test_neuron_query_prints_the_mixtures_answer(tmp_path, capsys):
    url = f"dev:{tmp_path / 'chain.sqlite'}"
    chain = DevChain(str(tmp_path / "chain.sqlite"))
    sub = LocalSubnet(chain, url, "text-embedding", default_plan(["bow", "random"], n_validators=1), tmp_path,
                      tempo=6, block_time=0.2, timeout_s=120, api=True,
                      validator_args=["--validator.batch_size", "8", "--validator.api_min_stake", "0"])
    children = Children(tmp_path / "logs")
    try:
        sub.launch(children)
        vuid = sub.uids["validator1"]
        deadline = time.monotonic() + 90
        while (a := chain.metagraph(sub.netuid).axons[vuid]) is None or a.protocol != API_PROTOCOL:
            assert time.monotonic() < deadline and not children.dead(), (tmp_path / "logs" / "validator1.log").read_text()
            time.sleep(0.3)
        proc = subprocess.run(
            [sys.executable, "-m", "neurons.cli.main", "query", "--subnet", "text-embedding", "--chain", url,
             "--netuid", str(sub.netuid), "--wallet", "//Alice", *TEXTS],
            capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = proc.stdout
        assert f"validator uid {vuid} " in out
        miners = {sub.uids[p.name] for p in sub.plan if p.role == "miner"}
        contributed = {int(u) for u in re.findall(r"uid (\d+) \(weight", out)}
        assert contributed and contributed <= miners
        rows = re.findall(r"^\[(\d)\] .*closest to text (\d)", out, re.M)
        assert [r[0] for r in rows] == ["0", "1", "2"]
        assert ("0", "2") in rows   # the two texts about a file's bytes find each other (bow is a real embedder)
        # the same validator named directly (no chain look-up), in this process; then with the wrong hotkey
        api = chain.metagraph(sub.netuid).axons[vuid]
        hotkey = chain.metagraph(sub.netuid).hotkeys[vuid]
        direct = ["query", "--subnet", "text-embedding", "--validator", f"{api.ip}:{api.port}", "--wallet", "//Bob"]
        capsys.readouterr()
        assert main([*direct, "--validator-hotkey", hotkey, *TEXTS]) == 0
        assert "closest to text 0" in capsys.readouterr().out
        assert main([*direct, "--validator-hotkey", Keypair.create_from_uri("//Eve").ss58_address, *TEXTS]) == 2
        assert "no validator answered" in capsys.readouterr().err
    finally:
        children.stop_all()
        chain.close()
