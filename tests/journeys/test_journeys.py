"""Two of the operator journeys of README's "Using it", with nothing but `neuron` commands (subprocesses
in a home of their own; this file imports nothing of the project). Each runs on a fresh dev ledger
(`dev:PATH`, blocks on the wall clock as any command makes it) and, when its chain spec and Chopsticks
are present, on the local spec-148 runtime (fixtures: conftest.py). The third, the subnet creator's,
is test_creator_journey.py.

- miner: wallet create -> fund -> register -> serve (the axon is announced and accepts connections)
- validator: wallet -> fund -> register -> stake -> the validator's weights are on chain (set, or
  committed) within two tempos ->
  the miner's incentive > 0 -> `neuron query` answered -> `neuron audit` agrees
"""
from __future__ import annotations

import re
import socket

from journey_shell import block_of, free_port, new_subnet, start_miner

TEXTS = ["read the whole file and return its bytes", "open a tcp socket to a host", "return the file's bytes"]


def test_miner_journey(shell):
    sh = shell
    netuid = new_subnet(sh)
    sh.wallet("miner")
    hotkey = sh.hotkey("miner")
    sh.fund("miner", "10")
    uid = sh.register("miner", netuid)
    port = start_miner(sh, "miner", netuid)
    sh.wait_log("miner", rf"announced \S+:{port}", 120)
    row = sh.neuron_row(netuid, hotkey)                         # what anyone sees on chain
    assert row["uid"] == uid and row["axon"].endswith(f":{port}")
    ip = row["axon"].rsplit(":", 1)[0]
    socket.create_connection((ip, port), timeout=5).close()     # the announced address is served
    assert "serving text-embedding (bow)" in sh.log("miner")
    assert sh.stop_all() == {"miner": 0}                        # Ctrl-C: a clean exit


def test_validator_journey(shell):
    sh = shell
    netuid = new_subnet(sh)
    for name in ("miner", "validator"):
        sh.wallet(name)
    miner_hotkey = sh.hotkey("miner")
    sh.fund("miner", "10")
    sh.fund("validator", "100")
    miner_uid = sh.register("miner", netuid)
    sh.register("validator", netuid)
    miner_port = start_miner(sh, "miner", netuid)
    out = sh.out("stake", "add", "--chain", sh.chain, "--wallet", "validator", "--amount", "50")
    assert "staked 50.000000000 TAO" in out
    listed = sh.out("stake", "list", "--chain", sh.chain, "--wallet", "validator")
    assert float(re.search(r"hotkey default\s+\S+\s+([\d.]+) TAO", listed).group(1)) >= 50  # plus emission since
    tempo = int(re.search(r"^tempo (\d+)$", sh.out("subnet", "hyperparameters", "--chain", sh.chain, "--netuid",
                                                   str(netuid)), re.M).group(1))
    sh.wait_log("miner", rf"announced \S+:{miner_port}", 120)
    started = block_of(sh, netuid)
    api_port = free_port()
    sh.start("validator", "validator", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "validator",
             "--validator.state_dir", str(sh.root / "validator-state"), "--validator.api_port", str(api_port),
             "--validator.batch_size", "4")
    # on chain within two tempos of the start: set directly, or committed (then revealed in the next
    # epoch's window, at most two tempos later)
    m = sh.wait_log("validator", r"weights (?:set at block (\d+)|revealed at block (\d+) .*committed at block (\d+))",
                    180)
    assert int(m.group(1) or m.group(3)) - started <= 2 * (tempo + 1), sh.log("validator")
    assert m.group(2) is None or int(m.group(2)) - int(m.group(3)) <= 2 * (tempo + 1), sh.log("validator")
    sh.wait_log("miner", r"incentive 0\.\d*[1-9]|incentive 1\.0", 120)   # the miner's own view, then the chain's
    row = sh.metagraph(netuid)["neurons"][miner_uid]
    assert row["incentive"] > 0 and row["hotkey"] == miner_hotkey
    answer = sh.wait_for("the validator's API to answer", lambda: (p := sh.run(
        "query", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "validator", *TEXTS, ok=False))
        .returncode == 0 and p.stdout, 120)
    assert f"uid {miner_uid} (weight" in answer and "closest to text" in answer
    audit = sh.out("audit", "--chain", sh.chain, "--netuid", str(netuid))
    assert "AGREES exactly" in audit and "Emission 0" in audit and "Active 0" in audit
    codes = sh.stop_all()
    assert codes == {"miner": 0, "validator": 0}, codes
