"""Wallet on disk: create / read / regen, passwords from arg, file and env, file modes, no secret in logs."""
from __future__ import annotations

import logging
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from substrateinterface import Keypair

from neurons.wallet import (PASSWORD_ENV, DecryptionError, KdfCost, KeyfileFormatError, Wallet, WalletError,
                            WalletExistsError, WalletLockedError, WalletNotFoundError, open_wallet)

FAST = KdfCost(log2_n=10, r=8, p=1)  # tests only: cheap KDF; real wallets use DEFAULT_KDF


@pytest.fixture
def wallet(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    return Wallet("w1", tmp_path / "wallets")


def test_create_then_read_back(wallet):
    new = wallet.create("hunter2", ["default", "second"], kdf=FAST)
    assert wallet.coldkey("hunter2").ss58_address == new.coldkey == wallet.coldkeypub
    assert wallet.hotkeys() == ["default", "second"]
    for name, ss58 in new.hotkeys.items():
        assert wallet.hotkey(name).ss58_address == ss58 == wallet.hotkey_ss58(name)
        assert not wallet.hotkey_encrypted(name)
    # the returned mnemonics regenerate the same keys
    assert Keypair.create_from_mnemonic(new.coldkey_mnemonic.get_secret_value()).ss58_address == new.coldkey
    # keys sign and verify for real
    hk = wallet.hotkey("second")
    assert hk.verify(b"msg", hk.sign(b"msg"))


def test_n_hotkeys(wallet):
    new = wallet.create("pw", 3, kdf=FAST)
    assert sorted(new.hotkeys) == ["default", "hotkey1", "hotkey2"] == wallet.hotkeys()


def test_file_and_directory_modes(wallet):
    wallet.create("pw", kdf=FAST)
    for d in [wallet.root, wallet.dir, wallet.dir / "hotkeys"]:
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    for f in [wallet.coldkey_path, wallet.coldkeypub_path, wallet.hotkey_path("default")]:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    assert not [p for p in wallet.dir.rglob("*.tmp")]  # no temp files left behind


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wrong=st.text(min_size=1, max_size=40))
def test_wrong_password_never_decrypts(wallet, wrong):
    if not wallet.coldkey_path.exists():
        wallet.create("correct horse", kdf=FAST)
    if wrong == "correct horse":
        return
    with pytest.raises(DecryptionError):
        wallet.coldkey(wrong)


def test_password_from_env_and_file(wallet, tmp_path, monkeypatch):
    wallet.create("from-arg", kdf=FAST)
    with pytest.raises(WalletLockedError) as e:
        wallet.coldkey()
    assert PASSWORD_ENV in e.value.hint and "--password-file" in e.value.hint
    monkeypatch.setenv(PASSWORD_ENV, "from-arg")
    assert wallet.coldkey().ss58_address == wallet.coldkeypub
    pwfile = tmp_path / "pw.txt"
    pwfile.write_text("wrong-one\n")
    with_file = Wallet("w1", wallet.root, password_file=pwfile)  # the file wins over the env var
    with pytest.raises(DecryptionError):
        with_file.coldkey()
    pwfile.write_text("from-arg\n")
    assert with_file.coldkey().ss58_address == wallet.coldkeypub
    pwfile.write_text("")
    with pytest.raises(WalletError, match="empty"):
        with_file.coldkey()


def test_refuses_to_overwrite(wallet):
    first = wallet.create("pw", kdf=FAST)
    with pytest.raises(WalletExistsError) as e:
        wallet.create("pw", kdf=FAST)
    assert "--overwrite" in e.value.hint
    assert wallet.coldkeypub == first.coldkey  # nothing was touched
    with pytest.raises(WalletExistsError):
        wallet.create_hotkey("default", kdf=FAST)
    second = wallet.create("pw", overwrite=True, kdf=FAST)
    assert wallet.coldkeypub == second.coldkey != first.coldkey


def test_regen_restores_the_same_keys(wallet, tmp_path):
    new = wallet.create("pw", kdf=FAST)
    other = Wallet("restored", tmp_path / "wallets")
    assert other.regen_coldkey(new.coldkey_mnemonic.get_secret_value(), "pw2", kdf=FAST) == new.coldkey
    assert other.coldkey("pw2").ss58_address == new.coldkey
    words = "  " + new.hotkey_mnemonics["default"].get_secret_value().upper().lower() + "\n"  # whitespace tolerated
    assert other.regen_hotkey("default", words, kdf=FAST) == new.hotkeys["default"]
    with pytest.raises(WalletError, match="invalid mnemonic"):
        other.regen_hotkey("x", "abandon " * 11 + "zoo", kdf=FAST)


def test_encrypted_hotkey_needs_the_password(wallet):
    wallet.create("pw", ["default"], encrypt_hotkeys=True, kdf=FAST)
    assert wallet.hotkey_encrypted("default")
    with pytest.raises(WalletLockedError):
        wallet.hotkey("default")
    with pytest.raises(DecryptionError):
        wallet.hotkey("default", "nope")
    assert wallet.hotkey("default", "pw").ss58_address == wallet.hotkey_ss58("default")


def test_watch_only_wallet(wallet, tmp_path):
    alice = Keypair.create_from_uri("//Alice").ss58_address
    watch = Wallet("watch", tmp_path / "wallets")
    watch.regen_coldkeypub(alice)
    assert watch.coldkeypub == alice
    with pytest.raises(WalletNotFoundError, match="watch-only") as e:
        watch.coldkey("pw")
    assert "regen coldkey" in e.value.hint
    with pytest.raises(KeyfileFormatError):
        watch.regen_coldkeypub("5notanaddress", overwrite=True)


def test_missing_things_say_what_to_do(wallet):
    with pytest.raises(WalletNotFoundError) as e:
        wallet.coldkey("pw")
    assert "neuron wallet create --wallet w1" in e.value.hint
    wallet.create("pw", kdf=FAST)
    with pytest.raises(WalletNotFoundError) as e:
        wallet.hotkey("absent")
    assert "new-hotkey" in e.value.hint


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "-x", "x" * 65, "sp ace", "nul\x00"])
def test_names_cannot_escape_the_wallet_directory(tmp_path, name):
    with pytest.raises(WalletError):
        Wallet(name, tmp_path)
    with pytest.raises(WalletError):
        Wallet("ok", tmp_path).hotkey_path(name)


def test_dev_wallet_from_uri():
    dev = Wallet.from_uri("//Alice")
    assert dev.coldkeypub == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    assert dev.hotkey().ss58_address == Keypair.create_from_uri("//Alice//default").ss58_address
    assert open_wallet("//Bob").coldkeypub == Keypair.create_from_uri("//Bob").ss58_address
    assert Wallet.from_uri("//Alice", hotkey_uri="//Alice").hotkey("any").ss58_address == dev.coldkeypub
    with pytest.raises(WalletError):
        Wallet.from_uri("Alice")


def test_no_secret_in_logs_or_reprs(wallet, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    new = wallet.create("S3cret-Pa55", ["default", "h2"], kdf=FAST)
    cold = wallet.coldkey("S3cret-Pa55")
    hot = wallet.hotkey("default")
    restored = Wallet("again", tmp_path / "wallets")
    restored.regen_coldkey(new.coldkey_mnemonic.get_secret_value(), "S3cret-Pa55", kdf=FAST)
    restored.regen_hotkey("default", new.hotkey_mnemonics["default"].get_secret_value(), kdf=FAST)
    shown = caplog.text + "".join(capsys.readouterr()) + repr(new) + str(new) + repr(cold) + repr(wallet)
    assert new.coldkey in caplog.text  # the logs do say what happened
    secrets = [new.coldkey_mnemonic.get_secret_value(), *(m.get_secret_value() for m in new.hotkey_mnemonics.values()),
               cold.private_key.hex(), hot.private_key.hex(), cold.private_key.hex()[:32], "S3cret-Pa55"]
    for s in secrets:
        assert s not in shown


def test_readable_by_others_is_warned_about(wallet, caplog):
    wallet.create("pw", kdf=FAST)
    os.chmod(wallet.hotkey_path("default"), 0o644)
    with caplog.at_level(logging.WARNING, logger="neurons.wallet"):
        wallet.hotkey("default")
    assert "accessible by other users (mode 644): run `chmod 600" in caplog.text


def test_a_corrupted_key_file_is_a_typed_error(wallet):
    wallet.create("pw", kdf=FAST)
    path = wallet.hotkey_path("default")
    path.write_bytes(path.read_bytes().replace(b'"mnemonic": "', b'"mnemonic": "x'))
    with pytest.raises(KeyfileFormatError, match=str(path)):
        wallet.hotkey("default")
    wallet.coldkey_path.write_bytes(b"\x00" * 10)
    with pytest.raises(KeyfileFormatError):
        wallet.coldkey("pw")
    assert wallet.coldkeypub  # the address file is separate and still readable
