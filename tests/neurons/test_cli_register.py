"""`neuron register` against the real dev ledger (chain.dev.DevChain in a SQLite file)."""
from __future__ import annotations

import argparse
import re

import pytest
from substrateinterface import Keypair

from chain import RAO_PER_TAO, connect
from neurons.cli.errors import CLIError
from neurons.cli.main import main
from neurons.cli.register import require_uid
from neurons.config import add_config_flags, load_config
from neurons.wallet import KdfCost, Wallet

PASSWORD = "register-test-pw"
ALICE = Keypair.create_from_uri("//Alice")


@pytest.fixture
def env(user_home, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENSUBNET_WALLET_PASSWORD", PASSWORD)
    url = f"dev:{tmp_path / 'ledger.sqlite'}"
    with connect(url) as chain:
        netuid = chain.create_subnet(ALICE)
    wallet = Wallet("miner", tmp_path / "home/.opensubnet/wallets")
    wallet.create(PASSWORD, ["default", "other"], kdf=KdfCost(10, 8, 1))
    return url, netuid, wallet


def fund(url: str, ss58: str, tao: int = 10) -> None:
    with connect(url) as chain:
        chain.transfer(ALICE, ss58, tao * RAO_PER_TAO)


def test_register_prints_the_uid_and_is_idempotent(env, capsys):
    url, netuid, wallet = env
    fund(url, wallet.coldkeypub)
    assert main(["register", "--netuid", str(netuid), "--wallet", "miner", "--chain", url]) == 0
    out = capsys.readouterr().out
    uid = int(re.search(r"on subnet \d+: uid (\d+)", out).group(1))
    with connect(url) as chain:
        assert chain.uid(netuid, wallet.hotkey_ss58()) == uid
        burn = chain.hyperparameters(netuid).burn
        assert chain.balance(wallet.coldkeypub) == 10 * RAO_PER_TAO - burn
    assert main(["register", "--netuid", str(netuid), "--wallet", "miner", "--chain", url]) == 0
    assert f"already registered on subnet {netuid}: uid {uid}" in capsys.readouterr().out


def test_dev_wallet_registers_without_a_password(env, capsys, monkeypatch):
    url, netuid, _ = env
    monkeypatch.delenv("OPENSUBNET_WALLET_PASSWORD")
    assert main(["register", "--netuid", str(netuid), "--wallet", "//Bob", "--chain", url]) == 0
    with connect(url) as chain:
        assert chain.uid(netuid, Keypair.create_from_uri("//Bob//default").ss58_address) is not None


def test_registration_errors_say_what_to_do(env, capsys, monkeypatch):
    url, netuid, wallet = env
    args = ["register", "--wallet", "miner", "--chain", url]
    assert main([*args, "--netuid", str(netuid)]) == 2  # coldkey has no funds
    assert f"fund it: `neuron wallet fund --chain {url} --wallet miner --amount 1`" in capsys.readouterr().err
    assert main([*args, "--netuid", "77"]) == 2
    err = capsys.readouterr().err
    assert "subnet 77 does not exist" in err and f"`neuron subnet create --chain {url} --wallet miner`" in err
    fund(url, wallet.coldkeypub)
    monkeypatch.setenv("OPENSUBNET_WALLET_PASSWORD", "not-it")
    assert main([*args, "--netuid", str(netuid)]) == 1
    assert "wrong password" in capsys.readouterr().err
    with connect(url) as chain:
        assert chain.uid(netuid, wallet.hotkey_ss58()) is None  # nothing was registered


def test_require_uid_names_the_command_to_run(env):
    url, netuid, wallet = env
    argv = ["--netuid", str(netuid), "--wallet", "miner", "--hotkey", "other", "--chain", url]
    cfg = load_config(add_config_flags(argparse.ArgumentParser(), ["wallet", "chain"]).parse_args(argv))
    with connect(url) as chain, pytest.raises(CLIError) as e:
        require_uid(chain, cfg, wallet.hotkey_ss58("other"))
    assert f"is not registered on subnet {netuid}" in str(e.value)
    assert e.value.hint == f"run `neuron register --netuid {netuid} --wallet miner --hotkey other --chain {url}`"
