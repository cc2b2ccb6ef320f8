"""`neuron wallet …` and `neuron config show` in-process: output, exit codes, and no secret on stdout or in logs."""
from __future__ import annotations

import logging
import os
import stat

import pytest
from substrateinterface import Keypair

from neurons.cli.main import main
from neurons.wallet import Wallet

PASSWORD = "Pa55-for-cli-tests"


@pytest.fixture
def home(user_home, monkeypatch):
    monkeypatch.setenv("OPENSUBNET_WALLET_PASSWORD", PASSWORD)
    return user_home


def read_mnemonics(path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in path.read_text().splitlines())


def test_create_show_regen_never_print_or_log_secrets(home, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    backup = home / "backup.txt"
    assert main(["wallet", "create", "--wallet", "w", "--hotkeys", "default", "miner2", "--mnemonic-file", str(backup)]) == 0
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    words = read_mnemonics(backup)
    assert set(words) == {"coldkey", "hotkey default", "hotkey miner2"}
    assert main(["wallet", "show", "--wallet", "w"]) == 0
    assert main(["wallet", "list"]) == 0
    (home / "cold.txt").write_text(words["coldkey"] + "\n")
    assert main(["wallet", "regen", "coldkey", "--wallet", "restored", "--mnemonic-file", str(home / "cold.txt")]) == 0
    (home / "hot.txt").write_text(words["hotkey miner2"])
    assert main(["wallet", "regen", "hotkey", "--wallet", "restored", "--hotkey", "miner2",
                 "--mnemonic-file", str(home / "hot.txt")]) == 0

    out = capsys.readouterr()
    shown = out.out + out.err + caplog.text
    wallet = Wallet("w", home / "home/.opensubnet/wallets")
    cold, hot = wallet.coldkey(PASSWORD), wallet.hotkey("miner2")
    assert cold.ss58_address in out.out and hot.ss58_address in out.out  # addresses are shown ...
    for secret in [*words.values(), cold.private_key.hex(), hot.private_key.hex(), PASSWORD]:
        assert secret not in shown  # ... secrets never
    restored = Wallet("restored", home / "home/.opensubnet/wallets")
    assert restored.coldkeypub == cold.ss58_address and restored.hotkey_ss58("miner2") == hot.ss58_address


def test_show_mnemonic_only_when_asked(home, capsys):
    assert main(["wallet", "create", "--wallet", "a", "--show-mnemonic"]) == 0
    out = capsys.readouterr().out
    words = out.split("coldkey: ", 1)[1].splitlines()[0]
    assert Keypair.create_from_mnemonic(words).ss58_address == Wallet("a", home / "home/.opensubnet/wallets").coldkeypub
    assert main(["wallet", "create", "--wallet", "b"]) == 0
    out = capsys.readouterr()
    assert "mnemonics were not shown" in out.err and "coldkey:" not in out.out


def test_errors_say_what_to_do(home, capsys, monkeypatch):
    assert main(["wallet", "create", "--wallet", "w"]) == 0
    capsys.readouterr()
    assert main(["wallet", "create", "--wallet", "w"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["wallet", "show", "--wallet", "nope"]) == 1
    assert "neuron wallet create --wallet nope" in capsys.readouterr().err
    assert main(["wallet", "regen", "coldkey", "--wallet", "x"]) == 2  # stdin is not a terminal here
    assert "--mnemonic-file" in capsys.readouterr().err
    monkeypatch.delenv("OPENSUBNET_WALLET_PASSWORD")
    assert main(["wallet", "create", "--wallet", "nopw"]) == 1
    err = capsys.readouterr().err
    assert "no password" in err and "OPENSUBNET_WALLET_PASSWORD" in err and "--password-file" in err
    assert main(["wallet", "create", "--wallet", "//Alice"]) == 2
    assert "dev-only" in capsys.readouterr().err


def test_password_file_and_new_hotkey(home, capsys, monkeypatch):
    monkeypatch.delenv("OPENSUBNET_WALLET_PASSWORD")
    pw = home / "pw"
    pw.write_text("from-a-file\n")
    assert main(["wallet", "create", "--wallet", "f", "--password-file", str(pw)]) == 0
    assert main(["wallet", "new-hotkey", "--wallet", "f", "--hotkey", "second", "--encrypt", "--password-file", str(pw)]) == 0
    wallet = Wallet("f", home / "home/.opensubnet/wallets")
    assert wallet.coldkey("from-a-file").ss58_address == wallet.coldkeypub
    assert wallet.hotkey_encrypted("second") and wallet.hotkey("second", "from-a-file")
    capsys.readouterr()
    assert main(["wallet", "show", "--wallet", "f"]) == 0
    assert "(encrypted)" in capsys.readouterr().out


def test_config_show_prints_sources_and_masks(home, capsys, monkeypatch):
    monkeypatch.setenv("OPENSUBNET_CHAIN__URL", "wss://user:s3cr3t@node:443")
    assert main(["config", "show", "--netuid", "4", "--axon.port", "9999"]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t" not in out and "# env OPENSUBNET_CHAIN__URL" in out
    assert any(ln.startswith("port = 9999") and ln.endswith("# flag --axon.port") for ln in out.splitlines())
    assert main(["config", "show", "--axon.port", "0"]) == 1
    assert "axon.port = '0' (from flag --axon.port)" in capsys.readouterr().err
    assert main(["config", "files"]) == 0
    assert "in use: none" in capsys.readouterr().out
