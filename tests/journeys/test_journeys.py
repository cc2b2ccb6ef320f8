"""The three operator journeys of README's "Using it", with nothing but `neuron` commands (subprocesses
in a home of their own; this file imports nothing of the project). Each runs on a fresh dev ledger
(`dev:PATH`, blocks on the wall clock as any command makes it) and, when its chain spec and Chopsticks
are present, on the local spec-148 runtime.

- miner: wallet create -> fund -> register -> serve (the axon is announced and accepts connections)
- validator: wallet -> fund -> register -> stake -> the validator sets weights within two tempos ->
  the miner's incentive > 0 -> `neuron query` answered -> `neuron audit` agrees
- subnet creator: subnet new -> subnet create -> subnet set -> a miner and a validator run the new .py
"""
from __future__ import annotations

import re
import shutil
import socket

import pytest
from journey_shell import SPEC_NAME, BlockPacer, Shell, free_port, local_runtime_missing, real_cache

TEXTS = ["read the whole file and return its bytes", "open a tcp socket to a host", "return the file's bytes"]


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One OPENSUBNET_CACHE for the journeys: the text corpus extracted once (from the user's cache when
    there is one), the localnet state dir, and the user's chain spec and Chopsticks."""
    root = tmp_path_factory.mktemp("opensubnet-cache")
    if (real_cache() / "corpus").is_dir():
        shutil.copytree(real_cache() / "corpus", root / "corpus")
    if local_runtime_missing() is None:
        (root / "chainspecs").mkdir()
        shutil.copy(real_cache() / "chainspecs" / SPEC_NAME, root / "chainspecs")
        (root / "chopsticks").symlink_to(real_cache() / "chopsticks")
    return root


@pytest.fixture(params=["dev", pytest.param("local", marks=[pytest.mark.localnet, pytest.mark.timeout(900)])])
def shell(request, tmp_path, cache):
    if request.param == "dev":
        sh = Shell(tmp_path, f"dev:{tmp_path / 'chain.sqlite'}", cache=cache)
        try:
            yield sh
        finally:
            sh.stop_all()
        return
    missing = local_runtime_missing()
    if missing:
        pytest.skip(missing)
    port = free_port()
    sh = Shell(tmp_path, f"local:{port}", cache=cache)
    sh.run("localnet", "start", "--port", str(port), "--no-install", timeout=300)
    pacer = BlockPacer(sh)
    try:
        yield sh
    finally:
        sh.stop_all()
        pacer.stop()
        sh.run("localnet", "stop", ok=False)


def new_subnet(sh: Shell, wallet: str = "//Alice") -> int:
    """`neuron subnet create` prints the new netuid (the dev account pays where the journey is not about it)."""
    return int(sh.out("subnet", "create", "--chain", sh.chain, "--wallet", wallet).strip().splitlines()[-1])


def start_miner(sh: Shell, name: str, netuid: int, subnet: str = "text-embedding", model: str = "bow") -> int:
    port = free_port()
    sh.start(name, "miner", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", name,
             "--subnet.name", subnet, "--miner.model", model, "--axon.port", str(port))
    return port


def block_of(sh: Shell, netuid: int) -> int:
    return sh.metagraph(netuid)["block"]


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
    set_at = sh.wait_log("validator", r"weights (?:set|revealed) at block (\d+)", 180)  # direct, or a reveal
    assert int(set_at.group(1)) - started <= 2 * (tempo + 1), sh.log("validator")
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


def test_subnet_creator_journey(shell):
    sh = shell
    sh.wallet("owner")
    sh.fund("owner", "1000")                                    # creating a subnet burns its lock cost
    out = sh.out("subnet", "new", "my-subnet", "--dir", str(sh.root))
    path = re.search(r"wrote (\S+\.py)", out).group(1)
    assert "neuron subnet check" in out
    netuid = int(sh.out("subnet", "create", "--chain", sh.chain, "--wallet", "owner").strip().splitlines()[-1])
    sh.out("subnet", "set", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "owner", "immunity_period", "500")
    refused = sh.run("subnet", "set", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "owner", "tempo", "8",
                     ok=False)                                  # the tempo is the chain's (sudo's) to set
    assert refused.returncode != 0 and "BadOrigin" in refused.stderr and "Traceback" not in refused.stderr
    assert "tempo 8" in sh.out("subnet", "set", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "//Alice",
                               "tempo", "8")
    unknown = sh.run("subnet", "set", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "owner", "tempi", "8",
                     ok=False)
    assert unknown.returncode == 2 and "unknown hyperparameter 'tempi'" in unknown.stderr and "tempo" in unknown.stderr
    params = dict(line.split(" ", 1) for line in
                  sh.out("subnet", "hyperparameters", "--chain", sh.chain, "--netuid", str(netuid)).splitlines())
    assert params["immunity_period"] == "500" and params["tempo"] == "8"
    yuma3 = sh.run("subnet", "set", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "owner", "yuma3", "true",
                   ok=False)                                    # today's rules: the dev ledger has them, spec 148 not
    if sh.chain.startswith("dev:"):
        assert yuma3.returncode == 0 and f"subnet {netuid}: yuma3 true" in yuma3.stdout
    else:
        assert yuma3.returncode != 0 and "no call that sets 'yuma3'" in yuma3.stderr and "Traceback" not in yuma3.stderr

    for name in ("miner", "validator"):
        sh.wallet(name)
        sh.fund(name, "100")
    miner_uid = sh.register("miner", netuid)
    sh.register("validator", netuid)
    sh.out("stake", "add", "--chain", sh.chain, "--wallet", "validator", "--amount", "50", "--netuid", str(netuid))
    start_miner(sh, "miner", netuid, subnet=path, model="exact")
    sh.start("validator", "validator", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "validator",
             "--subnet.name", path, "--validator.state_dir", str(sh.root / "validator-state"))
    sh.wait_log("miner", r"incentive 0\.\d*[1-9]|incentive 1\.0", 180)
    assert sh.metagraph(netuid)["neurons"][miner_uid]["incentive"] > 0
    assert re.search(r"weights (set|revealed) at block", sh.log("validator"))
    assert "AGREES exactly" in sh.out("audit", "--chain", sh.chain, "--netuid", str(netuid))
    codes = sh.stop_all()
    assert codes == {"miner": 0, "validator": 0}, codes
