"""`neuron transfer`, `stake add|remove|list`, `wallet fund`, `subnet create|hyperparameters|set` and
`audit`, in process through the real CLI entry point, on a real dev ledger file (manual blocks)."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from substrateinterface import Keypair

from chain import RAO_PER_TAO, connect
from chain.base import Chain
from chain.dev.blocks import owner_cut
from chain.errors import UnsupportedError
from neurons.cli.main import main
from neurons.wallet import KdfCost, Wallet

PASSWORD = "chain-ops-test-pw"


@pytest.fixture
def env(user_home, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENSUBNET_WALLET_PASSWORD", PASSWORD)
    url = f"dev:{tmp_path / 'ledger.sqlite'}?block_time=0"
    wallet = Wallet("w", tmp_path / "home/.opensubnet/wallets")
    wallet.create(PASSWORD, ["default", "other"], kdf=KdfCost(10, 8, 1))
    return url, wallet


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_fund_create_set_stake_transfer(env, capsys):
    url, wallet = env
    chain = ("--chain", url)
    assert run(capsys, "wallet", "fund", *chain, "--wallet", "w", "--amount", "500.5")[0] == 0
    code, out, _ = run(capsys, "subnet", "create", *chain, "--wallet", "w")
    netuid = int(out.strip())
    code, out, _ = run(capsys, "subnet", "hyperparameters", *chain, "--netuid", str(netuid))
    params = dict(line.split(" ") for line in out.splitlines())
    assert params["tempo"] == "10" and params["weights_rate_limit"] == "0" and params["commit_reveal_enabled"] in ("true", "false")
    assert run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "kappa", "30000")[1] \
        == f"subnet {netuid}: kappa 30000\n"
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "tempo", "5")
    assert code == 1 and "BadOrigin" in err                     # the tempo is sudo's
    assert run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "//Alice", "tempo", "5")[0] == 0
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "kapa", "1")
    assert code == 2 and "unknown hyperparameter 'kapa'" in err and "kappa" in err and "serving_rate_limit" in err
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "registration_allowed", "maybe")
    assert code == 2 and "true or false" in err
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "bonds_penalty", "70000")
    assert code == 2 and "bonds_penalty must be in [0, 65535], got 70000" in err   # before any chain call
    assert run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "kappa", "100",
               "immunity_period", "77")[1] == f"subnet {netuid}: kappa 100\nsubnet {netuid}: immunity_period 77\n"
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "kappa", "5", "tempo")
    assert code == 2 and "'tempo' has no value" in err
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "kappa", "5", "kappa", "6")
    assert code == 2 and "named twice" in err
    code, _, err = run(capsys, "subnet", "set", *chain, "--netuid", str(netuid), "--wallet", "w", "kappa", "5", "tempo", "6")
    assert code == 1 and "BadOrigin" in err and "none of the 2 values was set" in err   # the owner's kappa neither
    assert "kappa 100" in run(capsys, "subnet", "hyperparameters", *chain, "--netuid", str(netuid))[1]

    assert run(capsys, "register", *chain, "--netuid", str(netuid), "--wallet", "w", "--hotkey", "other")[0] == 0
    code, out, _ = run(capsys, "stake", "add", *chain, "--wallet", "w", "--hotkey", "other", "--amount", "20")
    assert code == 0 and "staked 20.000000000 TAO" in out
    other = wallet.hotkey_ss58("other")
    code, out, _ = run(capsys, "stake", "remove", *chain, "--wallet", "w", "--hotkey", other, "--amount", "5")
    assert code == 0 and f"from hotkey {other}" in out
    code, out, _ = run(capsys, "stake", "list", *chain, "--wallet", "w")
    assert re.search(rf"hotkey other\s+{other}\s+15\.000000000 TAO", out) and "total staked 15.000000000 TAO" in out
    bob = Keypair.create_from_uri("//Bob").ss58_address
    with connect(url) as c:
        bob_before, mine = c.balance(bob), c.balance(wallet.coldkeypub)
    assert mine >= int(384.5 * RAO_PER_TAO)   # 500.5 funded - 100 lock - 1 burn - 20 staked + 5 back, + owner's cut
    code, out, _ = run(capsys, "transfer", *chain, "--wallet", "w", "--dest", bob, "--amount", "0.000000001")
    assert code == 0 and "sent 0.000000001 TAO" in out
    with connect(url) as c:                  # the transfer's block pays the owner (this coldkey) its cut
        assert c.balance(bob) == bob_before + 1 and c.balance(wallet.coldkeypub) == mine - 1 + owner_cut(RAO_PER_TAO)


@pytest.mark.parametrize("amount, message", [("-1", "positive"), ("abc", "not a number"), ("0.0000000001", "9 decimals"),
                                             ("nan", "positive")])
def test_bad_amounts_are_refused_before_any_chain_call(env, capsys, amount, message):
    url, _ = env
    code, _, err = run(capsys, "transfer", "--chain", url, "--wallet", "w", "--dest",
                       Keypair.create_from_uri("//Bob").ss58_address, "--amount", amount)
    assert code == 2 and message in err and "Traceback" not in err


def test_transfer_needs_an_address_and_stake_needs_balance(env, capsys):
    url, _ = env
    code, _, err = run(capsys, "transfer", "--chain", url, "--wallet", "w", "--dest", "bob", "--amount", "1")
    assert code == 2 and "not an ss58 address" in err
    run(capsys, "subnet", "create", "--chain", url, "--wallet", "//Alice")
    run(capsys, "wallet", "fund", "--chain", url, "--wallet", "w", "--amount", "2")
    assert run(capsys, "register", "--chain", url, "--netuid", "1", "--wallet", "w")[0] == 0
    code, _, err = run(capsys, "stake", "add", "--chain", url, "--wallet", "w", "--amount", "5")
    assert code == 1 and "fund it first" in err


def test_only_local_chains_have_a_faucet():
    with pytest.raises(UnsupportedError) as e:
        Chain.faucet(SimpleNamespace(url="wss://entrypoint-finney.opentensor.ai:443"))
    assert "no faucet" in str(e.value) and "neuron transfer --wallet" in e.value.hint


def test_audit_command_on_the_dev_ledger(env, capsys):
    url, _ = env
    with connect(url) as c:
        alice, bob = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob")
        netuid = c.create_subnet(alice)
        c.set_hyperparameter(netuid, "commit_reveal_enabled", False, alice)
        code, _, err = run(capsys, "audit", "--chain", url, "--netuid", str(netuid))
        assert code == 1 and "no epoch has run" in err
        for i in range(3):
            c.register(netuid, Keypair.create_from_uri(f"//h{i}").ss58_address, bob)
        c.add_stake(bob, Keypair.create_from_uri("//h0").ss58_address, 10 * RAO_PER_TAO)
        c.advance_blocks(12)
        c.set_weights(netuid, Keypair.create_from_uri("//h0"), [1, 2], [65535, 1000])
        c.advance_blocks(12)
    code, out, _ = run(capsys, "audit", "--chain", url, "--netuid", str(netuid))
    assert code == 0 and "AGREES exactly on 9 stored fields" in out and "Emission 0" in out and "Active 0" in out
