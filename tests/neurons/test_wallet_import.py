"""`neuron wallet import`: wallets written by the Bittensor SDK's own `bittensor-wallet` package, read back
key for key; wrong passwords and damaged files end in one typed line, and nothing is written."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from substrateinterface import Keypair

bw = pytest.importorskip("bittensor_wallet", reason="needs the Bittensor SDK's wallet package: "
                         "`.venv/bin/python -m pip install bittensor-wallet` (in the `test` extra)")

from neurons.cli.main import main  # noqa: E402
from neurons.wallet import (PASSWORD_ENV, DecryptionError, KdfCost, KeyfileFormatError, Wallet,  # noqa: E402
                            WalletExistsError)
from neurons.wallet.bittensor import PASSWORD_ENV as BT_ENV, read_sdk_wallet, store  # noqa: E402

FAST = KdfCost(log2_n=10, r=8, p=1)  # tests only: cheap scrypt for the files we write
SDK_PW = "sdk-password-1"
NEW_PW = "new-password-2"


def _no_password() -> str:
    raise AssertionError("the password was asked for, but nothing is encrypted")


@pytest.fixture(scope="module")
def sdk_encrypted(tmp_path_factory) -> Path:
    """btcli's default: a password-encrypted coldkey, plaintext hotkeys `default` and `miner2`."""
    root = tmp_path_factory.mktemp("bt")
    w = bw.Wallet(name="src", hotkey="default", path=str(root))
    w.create_new_coldkey(n_words=12, use_password=True, overwrite=True, suppress=True, coldkey_password=SDK_PW)
    w.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    bw.Wallet(name="src", hotkey="miner2", path=str(root)).create_new_hotkey(
        n_words=24, use_password=False, overwrite=True, suppress=True)
    return root / "src"


def _sdk(dir: Path, hotkey: str = "default"):
    return bw.Wallet(name=dir.name, hotkey=hotkey, path=str(dir.parent))


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.delenv(BT_ENV, raising=False)


def test_cli_imports_an_sdk_wallet_key_for_key(sdk_encrypted, tmp_path):
    """The real command in a subprocess; the keys it stores are the SDK's keys (same secrets, signatures verify)."""
    pw_file = tmp_path / "bt.pw"
    pw_file.write_text(SDK_PW + "\n")
    env = {**os.environ, PASSWORD_ENV: NEW_PW}
    env.pop(BT_ENV, None)
    out = subprocess.run([sys.executable, "-m", "neurons.cli.main", "wallet", "import", "--wallet", "mine",
                          "--wallet.path", str(tmp_path / "wallets"), "--bittensor-path", str(sdk_encrypted),
                          "--bittensor-password-file", str(pw_file)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    sdk_cold = _sdk(sdk_encrypted).coldkeypub  # the SDK's own reading of the public half
    assert sdk_cold.ss58_address in out.stdout and "(encrypted)" in out.stdout

    mine = Wallet("mine", tmp_path / "wallets")
    cold = mine.coldkey(NEW_PW)
    assert cold.ss58_address == sdk_cold.ss58_address == mine.coldkeypub
    assert sdk_cold.verify(b"opensubnet", cold.sign(b"opensubnet"))  # our secret signs for their public key
    with pytest.raises(DecryptionError):
        mine.coldkey(SDK_PW)  # stored under the new password, not the old one
    assert mine.hotkeys() == ["default", "miner2"]
    for name in ("default", "miner2"):
        theirs = _sdk(sdk_encrypted, name).hotkey
        ours = mine.hotkey(name)
        assert not mine.hotkey_encrypted(name)
        on_disk = json.loads((sdk_encrypted / "hotkeys" / name).read_text())
        assert ours.ss58_address == theirs.ss58_address
        assert "0x" + ours.private_key.hex() == on_disk["privateKey"] and ours.mnemonic == on_disk["secretPhrase"]
        assert theirs.verify(b"opensubnet", ours.sign(b"opensubnet"))  # our signature, their verifier


def _run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["wallet", "import", *argv])
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_wrong_password_is_one_typed_line_and_writes_nothing(sdk_encrypted, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(BT_ENV, "not-the-password")
    monkeypatch.setenv(PASSWORD_ENV, NEW_PW)
    code, err = _run_cli(capsys, "--wallet", "mine", "--wallet.path", str(tmp_path / "w"),
                         "--bittensor-path", str(sdk_encrypted))
    assert code == 1
    assert "wrong Bittensor wallet password" in _one_line_error(err) and BT_ENV in err
    assert not (tmp_path / "w").exists()


def test_missing_source_password_names_the_flag_and_env(sdk_encrypted, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, NEW_PW)  # the new password alone is not taken for the old one
    code, err = _run_cli(capsys, "--wallet", "mine", "--wallet.path", str(tmp_path / "w"),
                         "--bittensor-path", str(sdk_encrypted))
    assert code == 1 and "--bittensor-password-file" in err and BT_ENV in err
    _one_line_error(err)


@pytest.fixture
def sdk_copy(sdk_encrypted, tmp_path) -> Path:
    dst = tmp_path / "copy"
    (dst / "hotkeys").mkdir(parents=True)
    for p in sdk_encrypted.rglob("*"):
        if p.is_file():
            (dst / p.relative_to(sdk_encrypted)).write_bytes(p.read_bytes())
            (dst / p.relative_to(sdk_encrypted)).chmod(0o600)
    return dst


def test_flipped_byte_in_encrypted_coldkey(sdk_copy, tmp_path):
    raw = bytearray((sdk_copy / "coldkey").read_bytes())
    raw[-3] ^= 0x01
    (sdk_copy / "coldkey").write_bytes(bytes(raw))
    with pytest.raises(DecryptionError, match="wrong Bittensor wallet password, or the file was modified"):
        read_sdk_wallet(sdk_copy, lambda: SDK_PW)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "coldkey").write_bytes(b"$NACL" + b"\0" * 20), "truncated"),
    (lambda d: (d / "coldkey").write_bytes(b"$ANSIBLE_VAULT;1.1;AES256\n6331"), "legacy Ansible Vault"),
    (lambda d: (d / "coldkeypub.txt").write_text("not json, not an address"), "neither key JSON nor an ss58"),
    (lambda d: _edit(d / "coldkeypub.txt", ss58Address="5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"),
     "ss58Address does not match publicKey"),
    (lambda d: _edit(d / "hotkeys" / "default", publicKey="0x" + "00" * 32), "privateKey does not match publicKey"),
    (lambda d: _edit(d / "hotkeys" / "miner2", secretPhrase="abandon " * 11 + "about"), "secretPhrase does not match"),
    (lambda d: _edit(d / "hotkeys" / "miner2", cryptoType=0), "not sr25519"),
    (lambda d: (d / "hotkeys" / "miner2").write_bytes(b"\x00\xff{"), "not a Bittensor keyfile"),
    (lambda d: (d / "hotkeys" / "defaultpub.txt").write_text((d / "hotkeys" / "miner2pub.txt").read_text()),
     "address is not hotkey 'default'"),
])
def test_damaged_files_are_typed_errors(sdk_copy, damage, message):
    damage(sdk_copy)
    with pytest.raises(KeyfileFormatError, match=message):
        read_sdk_wallet(sdk_copy, lambda: "wrong password: never reached")


def _edit(path: Path, **fields) -> None:
    obj = json.loads(path.read_text())
    path.write_text(json.dumps({**obj, **fields}))


def test_unencrypted_coldkey_and_unusual_hotkeys(tmp_path):
    """An SDK coldkey saved without a password imports without one; hotkeys from a //URI or a seed (no mnemonic)
    and an SDK-encrypted hotkey are stored encrypted."""
    sdk = bw.Wallet(name="plain", hotkey="default", path=str(tmp_path / "bt"))
    sdk.create_new_coldkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    sdk.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    bw.Wallet(name="plain", hotkey="bob", path=str(tmp_path / "bt")).create_hotkey_from_uri(
        "//Bob", use_password=False, overwrite=True, suppress=True)
    bw.Wallet(name="plain", hotkey="seeded", path=str(tmp_path / "bt")).regenerate_hotkey(
        seed="0x" + "42" * 32, use_password=False, overwrite=True, suppress=True)
    src = tmp_path / "bt" / "plain"
    read = read_sdk_wallet(src, _no_password)
    assert read.coldkey.ss58_address == sdk.coldkeypub.ss58_address
    assert set(read.hotkeys) == {"default", "bob", "seeded"} and not read.encrypted_hotkeys
    assert read.hotkeys["bob"].ss58_address == "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"  # //Bob

    mine = Wallet("mine", tmp_path / "w")
    done = store(read, mine, NEW_PW, kdf=FAST)
    assert ("hotkey default", sdk.hotkey.ss58_address, False) in done
    assert "0x" + mine.coldkey(NEW_PW).private_key.hex() == json.loads((src / "coldkey").read_text())["privateKey"]
    assert mine.hotkey_encrypted("bob") and mine.hotkey_encrypted("seeded") and not mine.hotkey_encrypted("default")
    seeded = mine.hotkey("seeded", NEW_PW)
    # (bittensor-wallet 4.1 cannot read this file back itself: it stores the seed as raw chars)
    assert seeded.ss58_address == json.loads((src / "hotkeys" / "seeded").read_text())["ss58Address"] \
        == Keypair.create_from_seed("42" * 32).ss58_address

    # an existing wallet is refused before anything is written, and --overwrite replaces it
    before = {p: p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()}
    with pytest.raises(WalletExistsError, match="already has"):
        store(read, mine, NEW_PW, kdf=FAST)
    assert before == {p: p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()}
    store(read, mine, "another-password", kdf=FAST, overwrite=True)
    assert mine.coldkey("another-password").ss58_address == sdk.coldkeypub.ss58_address


def test_watch_only_sdk_wallet(tmp_path, caplog):
    """Only coldkeypub.txt (and a hotkey's public half): a watch-only wallet, no password asked or needed."""
    sdk = bw.Wallet(name="full", hotkey="default", path=str(tmp_path / "bt"))
    sdk.create_new_coldkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    sdk.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    src = tmp_path / "bt" / "full"
    (src / "coldkey").unlink()
    (src / "hotkeys" / "default").unlink()
    read = read_sdk_wallet(src, _no_password)
    assert read.coldkey is None and read.hotkeys == {} and read.coldkeypub == sdk.coldkeypub.ss58_address
    assert "defaultpub.txt: a hotkey's public half only" in caplog.text
    mine = Wallet("mine", tmp_path / "w")
    assert store(read, mine, None) == [("coldkey (watch-only)", sdk.coldkeypub.ss58_address, False)]
    assert mine.coldkeypub == sdk.coldkeypub.ss58_address and not mine.coldkey_path.exists()


def test_sdk_encrypted_hotkey_needs_the_source_password(tmp_path):
    sdk = bw.Wallet(name="hk", hotkey="locked", path=str(tmp_path / "bt"))
    sdk.create_new_coldkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    sdk.create_new_hotkey(n_words=12, use_password=True, overwrite=True, suppress=True, hotkey_password=SDK_PW)
    read = read_sdk_wallet(tmp_path / "bt" / "hk", lambda: SDK_PW)
    assert read.encrypted_hotkeys == {"locked"}
    assert sdk.hotkeypub.verify(b"m", read.hotkeys["locked"].sign(b"m"))
    mine = Wallet("mine", tmp_path / "w")
    store(read, mine, NEW_PW, kdf=FAST)
    assert mine.hotkey_encrypted("locked") and mine.hotkey("locked", NEW_PW).ss58_address == read.hotkeys["locked"].ss58_address


def test_not_an_sdk_wallet(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = _run_cli(capsys, "--wallet", "mine", "--wallet.path", str(tmp_path / "w"),
                         "--bittensor-path", str(tmp_path / "empty"))
    assert code == 1 and "holds no Bittensor wallet" in _one_line_error(err)
    assert not (tmp_path / "w").exists()
