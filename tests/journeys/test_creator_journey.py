"""The subnet creator's journey of README's "Using it", with nothing but `neuron` commands, on a fresh
dev ledger and, when present, the local spec-148 runtime (fixtures: conftest.py): subnet new -> subnet
create -> subnet set (the owner's, sudo's, today's rules) -> a miner and a validator run the new .py ->
`neuron audit` agrees.
"""
from __future__ import annotations

import re

from journey_shell import start_miner


def test_subnet_creator_journey(shell):
    sh = shell
    sh.wallet("owner")
    sh.fund("owner", "1000")                                    # creating a subnet burns its lock cost
    out = sh.out("subnet", "new", "my-subnet", "--dir", str(sh.root))
    path = re.search(r"wrote (\S+\.py)", out).group(1)
    assert "neuron subnet check" in out
    netuid = int(sh.out("subnet", "create", "--chain", sh.chain, "--wallet", "owner").strip().splitlines()[-1])
    sh.out("subnet", "set", "--chain", sh.chain, "--netuid", str(netuid), "--wallet", "owner", "immunity_period", "500",
           "activity_cutoff", "4000")                           # several values: one extrinsic
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
    assert params["immunity_period"] == "500" and params["activity_cutoff"] == "4000" and params["tempo"] == "8"
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
