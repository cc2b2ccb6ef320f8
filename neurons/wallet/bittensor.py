"""Read one wallet directory written by the Bittensor SDK (`bittensor-wallet`, used by btcli).

    DIR/coldkey            key JSON, `$NACL`-encrypted (or plaintext when created without a password)
    DIR/coldkeypub.txt     {"ss58Address": …, "publicKey": …}
    DIR/hotkeys/NAME       key JSON, plaintext by default, `$NACL`-encrypted when the SDK was asked to
    DIR/hotkeys/NAMEpub.txt  the hotkey's public half (SDK >= 3); checked against NAME when present

Key JSON: {"secretPhrase", "secretSeed", "privateKey", "publicKey", "ss58Address", "accountId",
"cryptoType"}; the phrase and seed are absent or null for keys made from a seed or a //URI.
`$NACL` files are b"$NACL" + a NaCl secretbox (24-byte nonce, 16-byte MAC, ciphertext) under the key
argon2i(password, the SDK's fixed salt, OPSLIMIT/MEMLIMIT_SENSITIVE) (~2 s and 512 MiB per unlock).
Every key is checked before it is returned: its private key must give the stated public key and
address, and its phrase and seed (when present) must give that private key.
Only `KeyfileError`/`WalletError` subclasses are raised.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import pydantic_core
from substrateinterface import Keypair, KeypairType

from neurons.wallet.errors import DecryptionError, KeyfileFormatError, WalletError, WalletExistsError, WalletNotFoundError
from neurons.wallet.files import read_private
from neurons.wallet.keyfile import DEFAULT_KDF, SS58_FORMAT, KdfCost
from neurons.wallet.wallet import Wallet

log = logging.getLogger("neurons.wallet")

NACL_PREFIX = b"$NACL"
#: The SDK's fixed argon2i salt (bittensor_wallet keyfile.py NACL_SALT).
NACL_SALT = b"\x13q\x83\xdf\xf1Z\t\xbc\x9c\x90\xb5Q\x879\xe9\xb1"
MAX_SDK_KEYFILE_BYTES = 16 * 1024
PASSWORD_ENV = "BT_WALLET_PASSWORD"
_SR25519 = 1  # the SDK's cryptoType (0 = ed25519, 2 = ecdsa: not sr25519, not importable)
_LEGACY = {b"$ANSIBLE_VAULT": "Ansible Vault", b"gAAAAA": "Fernet"}


@dataclass
class SdkWallet:
    """The keys of one SDK wallet directory, all checked. `coldkey` is None for a watch-only wallet."""
    path: Path
    coldkeypub: str
    coldkey: Keypair | None = None
    hotkeys: dict[str, Keypair] = field(default_factory=dict)
    encrypted_hotkeys: set[str] = field(default_factory=set)

    def keep_encrypted(self, hotkey: str) -> bool:
        """Stored encrypted here: it was encrypted there, or it has no mnemonic (our plaintext files need one)."""
        return hotkey in self.encrypted_hotkeys or not getattr(self.hotkeys[hotkey], "mnemonic", None)

    @property
    def needs_password(self) -> bool:
        """Whether storing it needs a password for the new files."""
        return self.coldkey is not None or any(map(self.keep_encrypted, self.hotkeys))


class _Unlocker:
    """Derives the secretbox key once per import (the SDK uses one fixed salt, so one password = one key)."""

    def __init__(self, password: Callable[[], str]):
        self._password = password
        self._box: nacl.secret.SecretBox | None = None

    def open(self, blob: bytes, source: str) -> bytes:
        if len(blob) < nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES:
            raise KeyfileFormatError(f"{source}: $NACL file is truncated ({len(blob)} bytes after the prefix)")
        if self._box is None:
            key = nacl.pwhash.argon2i.kdf(nacl.secret.SecretBox.KEY_SIZE, self._password().encode("utf-8"), NACL_SALT,
                                          opslimit=nacl.pwhash.argon2i.OPSLIMIT_SENSITIVE,
                                          memlimit=nacl.pwhash.argon2i.MEMLIMIT_SENSITIVE)
            self._box = nacl.secret.SecretBox(key)
        try:
            return self._box.decrypt(blob)
        except nacl.exceptions.CryptoError:
            raise DecryptionError(f"{source}: wrong Bittensor wallet password, or the file was modified",
                                  hint=f"check the source password (--bittensor-password-file or {PASSWORD_ENV})") from None


def _read(path: Path) -> bytes:
    raw = read_private(path, MAX_SDK_KEYFILE_BYTES)
    if len(raw) > MAX_SDK_KEYFILE_BYTES:
        raise KeyfileFormatError(f"{path}: {len(raw)}+ bytes is too large for a Bittensor keyfile")
    return raw


def _json(raw: bytes, source: str) -> dict:
    try:
        obj = pydantic_core.from_json(raw)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        raise KeyfileFormatError(f"{source}: not a Bittensor keyfile (expected a JSON object)")
    return obj


def _hex(obj: dict, key: str, n_bytes: int, source: str, required: bool = True) -> bytes | None:
    v = obj.get(key)
    if v is None and not required:
        return None
    if isinstance(v, str):
        try:
            b = bytes.fromhex(v.removeprefix("0x"))
            if len(b) == n_bytes:
                return b
        except ValueError:
            pass
    raise KeyfileFormatError(f"{source}: field {key!r} is missing or not {n_bytes} bytes of hex")


def _seed(obj: dict, source: str) -> bytes | None:
    """secretSeed: 32 bytes of hex, or (as `Wallet.regenerate_*(seed=…)` writes it) "0x" + the 32 bytes as chars."""
    v = obj.get("secretSeed")
    if isinstance(v, str) and len(v) == 34 and v.startswith("0x"):  # 32 bytes of hex would be 66 chars
        try:
            return v[2:].encode("latin-1")
        except UnicodeEncodeError:
            pass
    return _hex(obj, "secretSeed", 32, source, required=False)


def _check_type(obj: dict, source: str) -> None:
    crypto = obj.get("cryptoType", _SR25519)
    if crypto != _SR25519:
        raise KeyfileFormatError(f"{source}: cryptoType {crypto!r} is not sr25519 (1); only sr25519 keys can be imported")


def _address(obj: dict, public_key: bytes, source: str) -> str:
    ss58 = Keypair(public_key=public_key, ss58_format=SS58_FORMAT).ss58_address
    if "ss58Address" in obj and obj["ss58Address"] != ss58:
        raise KeyfileFormatError(f"{source}: ss58Address does not match publicKey (file corrupted)")
    return ss58


def parse_key(raw: bytes, source: str, unlocker: _Unlocker | None) -> tuple[Keypair, bool]:
    """(checked keypair, was encrypted) from an SDK key file's bytes; a pure function when not encrypted."""
    encrypted = raw.startswith(NACL_PREFIX)
    if encrypted:
        if unlocker is None:
            raise KeyfileFormatError(f"{source}: encrypted, and no password source was given")
        raw = unlocker.open(raw[len(NACL_PREFIX):], source)
    else:
        for prefix, name in _LEGACY.items():
            if raw.startswith(prefix):
                raise KeyfileFormatError(f"{source}: encrypted with the SDK's legacy {name} format",
                                         hint="re-encrypt it with `btcli wallet update`, then import again")
    obj = _json(raw, source)
    _check_type(obj, source)
    private = _hex(obj, "privateKey", 64, source)
    public = _hex(obj, "publicKey", 32, source)
    try:
        kp = Keypair.create_from_private_key(private, ss58_format=SS58_FORMAT, crypto_type=KeypairType.SR25519)
    except ValueError as e:
        raise KeyfileFormatError(f"{source}: invalid sr25519 private key ({e})") from None
    if kp.public_key != public:
        raise KeyfileFormatError(f"{source}: privateKey does not match publicKey (file corrupted)")
    _address(obj, public, source)
    seed = _seed(obj, source)
    if seed is not None and Keypair.create_from_seed(seed.hex(), ss58_format=SS58_FORMAT).private_key != private:
        raise KeyfileFormatError(f"{source}: secretSeed does not match privateKey (file corrupted)")
    phrase = obj.get("secretPhrase")
    if phrase is not None:
        try:
            from_words = Keypair.create_from_mnemonic(" ".join(str(phrase).split()), ss58_format=SS58_FORMAT)
        except (ValueError, TypeError):
            from_words = None
        if from_words is None or from_words.private_key != private:
            raise KeyfileFormatError(f"{source}: secretPhrase does not match privateKey (file corrupted)")
        kp = from_words  # carries the mnemonic into our keyfile
    return kp, encrypted


def parse_pub(raw: bytes, source: str) -> str:
    """The ss58 address in a coldkeypub.txt / NAMEpub.txt (JSON; or a bare address, as old SDKs wrote)."""
    text = raw.strip()
    if text[:1] != b"{":
        try:
            return Keypair(ss58_address=text.decode("ascii"), ss58_format=SS58_FORMAT).ss58_address
        except (ValueError, TypeError, IndexError, UnicodeDecodeError):
            raise KeyfileFormatError(f"{source}: neither key JSON nor an ss58 address") from None
    obj = _json(text, source)
    _check_type(obj, source)
    return _address(obj, _hex(obj, "publicKey", 32, source), source)


def read_sdk_wallet(path: str | Path, password: Callable[[], str]) -> SdkWallet:
    """Every key of the SDK wallet at `path`, checked. `password()` is called (once) only if a key is encrypted."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise WalletNotFoundError(f"{root} is not a directory",
                                  hint="pass the wallet's own directory, e.g. --bittensor-path ~/.bittensor/wallets/NAME")
    cold_path, pub_path = root / "coldkey", root / "coldkeypub.txt"
    if not cold_path.exists() and not pub_path.exists():
        raise WalletNotFoundError(f"{root} holds no Bittensor wallet (no coldkey, no coldkeypub.txt)",
                                  hint="pass the wallet's own directory, e.g. --bittensor-path ~/.bittensor/wallets/NAME")
    unlocker = _Unlocker(password)
    coldkeypub = parse_pub(_read(pub_path), str(pub_path)) if pub_path.exists() else None
    hotkeys, encrypted_hotkeys = {}, set()
    hot_dir = root / "hotkeys"
    files = sorted(p for p in hot_dir.iterdir() if p.is_file()) if hot_dir.is_dir() else []
    names = {p.name for p in files}
    for p in files:  # hotkeys before the coldkey: plaintext files are checked before any slow KDF
        if p.name.startswith("."):
            continue
        if p.name.endswith("pub.txt"):  # checked with its key below; alone it is a watch-only hotkey
            if p.name[:-len("pub.txt")] not in names:
                log.warning("%s: a hotkey's public half only, not imported (opensubnet keeps no watch-only hotkeys)", p)
            continue
        hotkeys[p.name], encrypted = parse_key(_read(p), str(p), unlocker)
        pub = p.with_name(p.name + "pub.txt")
        if pub.exists() and parse_pub(_read(pub), str(pub)) != hotkeys[p.name].ss58_address:
            raise KeyfileFormatError(f"{pub}: address is not hotkey {p.name!r}'s {hotkeys[p.name].ss58_address}")
        if encrypted:
            encrypted_hotkeys.add(p.name)
    coldkey = parse_key(_read(cold_path), str(cold_path), unlocker)[0] if cold_path.exists() else None
    if coldkey is not None and coldkeypub not in (None, coldkey.ss58_address):
        raise KeyfileFormatError(f"{pub_path}: address {coldkeypub} is not the coldkey's {coldkey.ss58_address}")
    return SdkWallet(root, coldkeypub or coldkey.ss58_address, coldkey, hotkeys, encrypted_hotkeys)


def store(sdk: SdkWallet, wallet: Wallet, password: str | None, *, overwrite: bool = False,
          kdf: KdfCost = DEFAULT_KDF) -> list[tuple[str, str, bool]]:
    """Write `sdk`'s keys into `wallet`, hotkey names kept; returns (label, ss58, encrypted) per key.

    The coldkey is encrypted with `password`; a hotkey is encrypted with it when it was encrypted in the
    SDK wallet or has no mnemonic (our plaintext keyfiles must carry one). Every destination is checked
    before anything is written, so a refusal leaves the wallet as it was."""
    if sdk.needs_password and not password:
        raise WalletError("a password for the imported keys is needed")
    targets = [wallet.coldkey_path, wallet.coldkeypub_path, *map(wallet.hotkey_path, sdk.hotkeys)]  # checks names
    if not overwrite and (taken := [str(p) for p in targets if p.exists()]):
        raise WalletExistsError(f"wallet {wallet.name!r} already has {', '.join(taken)}",
                                hint="choose another --wallet name, or pass --overwrite (the old keys are lost "
                                     "unless you have their mnemonics)")
    if sdk.coldkey is None and wallet.coldkey_path.exists():
        raise WalletExistsError(f"{sdk.path} is watch-only, and wallet {wallet.name!r} has a coldkey it would not replace",
                                hint="import it under another --wallet name")
    done = []
    if sdk.coldkey is not None:
        done.append(("coldkey", wallet._write_coldkey(sdk.coldkey, password, kdf, overwrite), True))
    else:
        done.append(("coldkey (watch-only)", wallet.regen_coldkeypub(sdk.coldkeypub, overwrite=overwrite), False))
    for name, kp in sdk.hotkeys.items():
        enc = sdk.keep_encrypted(name)
        done.append((f"hotkey {name}", wallet._write_hotkey(name, kp, password if enc else None, kdf, overwrite), enc))
    return done


__all__ = ["SdkWallet", "read_sdk_wallet", "store", "parse_key", "parse_pub", "PASSWORD_ENV"]
