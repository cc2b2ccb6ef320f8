"""`neuron audit` on the real spec-148 runtime: a small subnet (validators with different stakes,
miners, weights) runs real epochs; recomputing them with consensus.run_epoch must give the
exact u16 values the runtime stored (tolerance 0)."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
from localnet_fixture import local_chain  # noqa: F401  (pytest fixture)
from substrateinterface import Keypair

from chain.audit import AuditReport, audit_epoch, last_epoch_block
from chain.types import RAO_PER_TAO

pytestmark = pytest.mark.localnet
K = Keypair.create_from_uri
TOLERANCE_U16 = 0


def build_subnet(c) -> int:
    alice, bob, charlie, dave = K("//Alice"), K("//Bob"), K("//Charlie"), K("//Dave")
    netuid = c.create_subnet(alice)
    c.set_hyperparameter(netuid, "max_allowed_validators", 4, alice)   # some miners get no permit
    validators = [(bob, "v0", 1000), (charlie, "v1", 300), (dave, "v2", 45)]
    for ck, name, _ in validators:
        c.register(netuid, K(f"//{name}").ss58_address, ck)
    for i in range(5):                                  # miners, no stake
        c.register(netuid, K(f"//m{i}").ss58_address, alice)
    for ck, name, tao in validators:
        c.add_stake(ck, K(f"//{name}").ss58_address, tao * RAO_PER_TAO)
    c.advance_blocks(c.tempo + 1)                       # an epoch hands out permits
    weights = {"v0": [60000, 20000, 5000, 0, 1000], "v1": [30000, 35535, 0, 9000, 1000], "v2": [0, 65535, 100, 0, 0]}
    for name, w in weights.items():
        uids = [3 + j for j, x in enumerate(w) if x]
        c.set_weights(netuid, K(f"//{name}"), uids, [x for x in w if x])
    c.advance_blocks(c.tempo + 1)
    c.set_weights(netuid, K("//v1"), [3, 4, 7], [50000, 10000, 5535])   # v1 changes its mind
    c.advance_blocks(2 * (c.tempo + 1))
    return netuid


def test_audit_agrees_with_the_runtime_epochs(local_chain, capsys):
    c = local_chain
    netuid = build_subnet(c)
    latest = last_epoch_block(c, netuid)
    assert (latest + netuid + 2) % (c.tempo + 1) == 0
    for b in (latest - 2 * (c.tempo + 1), latest - (c.tempo + 1), latest):
        report = audit_epoch(c, netuid, b)
        assert report.chain["Incentive"].sum() > 60000 and report.chain["Bonds"].max() > 0  # a real epoch
        assert 0 < report.chain["ValidatorPermit"].sum() < len(report.hotkeys)
        assert report.max_diff <= TOLERANCE_U16, report.table()

    from neurons.cli import audit as cli                # the command prints the same comparison
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(["--chain", c.url, "--netuid", str(netuid)])) == 0
    out = capsys.readouterr().out
    assert f"epoch of block {latest}" in out and "AGREES exactly" in out


def test_audit_report_table_and_detects_a_difference():
    n = 2
    chain = {k: np.array([10, 20]) for k in ("Consensus", "Incentive", "Dividends", "ValidatorTrust")}
    chain["ValidatorPermit"] = np.array([True, False])
    chain["Bonds"] = np.zeros((n, n), dtype=np.int64)
    ours = {k: v.copy() for k, v in chain.items()}
    ours["Dividends"] = np.array([10, 23])
    ours["Bonds"] = np.array([[0, 7], [0, 0]])
    r = AuditReport(netuid=1, epoch_block=30, hotkeys=["5Fabc123xyz", "5Gdef456xyz"], chain=chain, ours=ours)
    assert r.diffs["Dividends"] == 3 and r.diffs["Bonds"] == 7 and r.max_diff == 7
    text = r.table()
    assert "20/23" in text and "DIFFERS by up to 7" in text and "5Fabc123" in text
