"""`Wallet`: a coldkey (encrypted at rest) and named hotkeys stored under one directory.

    ROOT/NAME/coldkey          keyfile, always encrypted (see keyfile.py)
    ROOT/NAME/coldkeypub.txt   the coldkey's ss58 address (enough for a watch-only wallet)
    ROOT/NAME/hotkeys/HNAME    keyfile, plaintext by default so a miner starts unattended

ROOT defaults to ~/.opensubnet/wallets. Passwords come from the argument, else the password file,
else the env var (OPENSUBNET_WALLET_PASSWORD); the library never prompts. Nothing here logs or
returns a secret except `create`/`create_hotkey`, which return the new mnemonics as SecretStr.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from pydantic import SecretStr
from substrateinterface import Keypair
from substrateinterface.utils.ss58 import ss58_decode

from neurons.wallet import keyfile
from neurons.wallet.errors import KeyfileFormatError, WalletError, WalletExistsError, WalletNotFoundError
from neurons.wallet.files import private_dir, read_private, write_private
from neurons.wallet.password import PASSWORD_ENV, resolve_password

log = logging.getLogger("neurons.wallet")

DEFAULT_ROOT = "~/.opensubnet/wallets"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str, what: str = "wallet") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise WalletError(f"invalid {what} name {name!r}",
                          hint="use 1-64 letters, digits, '_', '-' or '.', not starting with '.' or '-'")
    return name


def hotkey_names(hotkeys: int | Sequence[str]) -> list[str]:
    """`n` → ["default", "hotkey1", …]; a sequence of names is checked and returned."""
    if isinstance(hotkeys, int):
        if hotkeys < 0:
            raise WalletError("the number of hotkeys must be >= 0")
        return ["default", *(f"hotkey{i}" for i in range(1, hotkeys))][:hotkeys]
    names = [check_name(n, "hotkey") for n in hotkeys]
    if len(set(names)) != len(names):
        raise WalletError(f"duplicate hotkey names in {names}")
    return names


@dataclass(frozen=True)
class NewKeys:
    """Addresses and mnemonics of keys just created; the mnemonics are masked in repr/str."""
    coldkey: str | None = None
    coldkey_mnemonic: SecretStr | None = None
    hotkeys: dict[str, str] = field(default_factory=dict)
    hotkey_mnemonics: dict[str, SecretStr] = field(default_factory=dict)


class Wallet:
    def __init__(self, name: str = "default", path: str | Path | None = None, *,
                 password_env: str | None = PASSWORD_ENV, password_file: str | Path | None = None):
        self.name = check_name(name)
        self.root = Path(path or DEFAULT_ROOT).expanduser()
        self.dir = self.root / self.name
        self.password_env = password_env
        self.password_file = password_file

    def __repr__(self) -> str:
        return f"Wallet(name={self.name!r}, path={str(self.root)!r})"

    @classmethod
    def from_uri(cls, uri: str = "//Alice", hotkey_uri: str | None = None):
        """DEV ONLY: an in-memory wallet with well-known keys (//Alice …) for local and dev chains."""
        from neurons.wallet.dev import DevWallet
        return DevWallet(uri, hotkey_uri)

    # --- paths -------------------------------------------------------------------------------
    @property
    def coldkey_path(self) -> Path:
        return self.dir / "coldkey"

    @property
    def coldkeypub_path(self) -> Path:
        return self.dir / "coldkeypub.txt"

    def hotkey_path(self, name: str) -> Path:
        return self.dir / "hotkeys" / check_name(name, "hotkey")

    def exists(self) -> bool:
        return self.coldkey_path.exists() or self.coldkeypub_path.exists()

    # --- creating ----------------------------------------------------------------------------
    def create(self, password: str | None = None, hotkeys: int | Sequence[str] = ("default",), *,
               overwrite: bool = False, encrypt_hotkeys: bool = False,
               kdf: keyfile.KdfCost = keyfile.DEFAULT_KDF) -> NewKeys:
        """New coldkey (encrypted with the password) and hotkeys; refuses to replace keys unless `overwrite`."""
        names = hotkey_names(hotkeys)
        password = self._password(password, "the new coldkey")
        if not overwrite:
            for p in [self.coldkey_path, self.coldkeypub_path, *map(self.hotkey_path, names)]:
                if p.exists():
                    raise WalletExistsError(f"wallet {self.name!r} already has {p.name} at {p}",
                                            hint="choose another --wallet name, or pass --overwrite "
                                                 "(the old keys are lost unless you have their mnemonics)")
        mnemonic = Keypair.generate_mnemonic()
        cold = self._write_coldkey(Keypair.create_from_mnemonic(mnemonic, ss58_format=keyfile.SS58_FORMAT),
                                   password, kdf, overwrite)
        new = NewKeys(coldkey=cold, coldkey_mnemonic=SecretStr(mnemonic))
        for n in names:
            hk = self.create_hotkey(n, password=password if encrypt_hotkeys else None, overwrite=overwrite, kdf=kdf)
            new.hotkeys.update(hk.hotkeys)
            new.hotkey_mnemonics.update(hk.hotkey_mnemonics)
        return new

    def create_hotkey(self, name: str = "default", *, password: str | None = None, overwrite: bool = False,
                      kdf: keyfile.KdfCost = keyfile.DEFAULT_KDF) -> NewKeys:
        """A new hotkey; stored encrypted only when `password` is given."""
        mnemonic = Keypair.generate_mnemonic()
        ss58 = self._write_hotkey(name, Keypair.create_from_mnemonic(mnemonic, ss58_format=keyfile.SS58_FORMAT),
                                  password, kdf, overwrite)
        return NewKeys(hotkeys={name: ss58}, hotkey_mnemonics={name: SecretStr(mnemonic)})

    def regen_coldkey(self, mnemonic: str, password: str | None = None, *, overwrite: bool = False,
                      kdf: keyfile.KdfCost = keyfile.DEFAULT_KDF) -> str:
        """Restore the coldkey from its mnemonic; returns its ss58 address."""
        kp = _from_mnemonic(mnemonic)
        return self._write_coldkey(kp, self._password(password, "the coldkey"), kdf, overwrite)

    def regen_hotkey(self, name: str, mnemonic: str, *, password: str | None = None, overwrite: bool = False,
                     kdf: keyfile.KdfCost = keyfile.DEFAULT_KDF) -> str:
        return self._write_hotkey(name, _from_mnemonic(mnemonic), password, kdf, overwrite)

    def regen_coldkeypub(self, ss58: str, *, overwrite: bool = False) -> str:
        """Watch-only: store just the coldkey's address."""
        _check_ss58(ss58, "coldkey address")
        write_private(self.coldkeypub_path, (ss58 + "\n").encode(), overwrite=overwrite)
        log.info("wallet %s: coldkeypub set to %s", self.name, ss58)
        return ss58

    def _write_coldkey(self, kp: Keypair, password: str, kdf: keyfile.KdfCost, overwrite: bool) -> str:
        private_dir(self.dir)
        write_private(self.coldkey_path, keyfile.dump(keyfile.build(kp, password=password, kdf=kdf)), overwrite=overwrite)
        write_private(self.coldkeypub_path, (kp.ss58_address + "\n").encode(), overwrite=True)
        log.info("wallet %s: coldkey %s written to %s", self.name, kp.ss58_address, self.coldkey_path)
        return kp.ss58_address

    def _write_hotkey(self, name: str, kp: Keypair, password: str | None, kdf: keyfile.KdfCost, overwrite: bool) -> str:
        path = self.hotkey_path(name)
        private_dir(self.dir)
        write_private(path, keyfile.dump(keyfile.build(kp, password=password, kdf=kdf)), overwrite=overwrite)
        log.info("wallet %s: hotkey %s %s written to %s%s", self.name, name, kp.ss58_address, path,
                 " (encrypted)" if password else "")
        return kp.ss58_address

    # --- reading -----------------------------------------------------------------------------
    def coldkey(self, password: str | None = None) -> Keypair:
        """The coldkey keypair (decrypts: needs the password from the argument, password file or env var)."""
        kf = self._read(self.coldkey_path, "coldkey")
        if not kf.encrypted:
            raise KeyfileFormatError(f"{self.coldkey_path}: coldkey is stored unencrypted",
                                     hint="regenerate it with a password: `neuron wallet regen coldkey`")
        return keyfile.unlock(kf, self._password(password, f"coldkey of wallet {self.name!r}"), str(self.coldkey_path))

    @property
    def coldkeypub(self) -> str:
        """The coldkey's ss58 address (from coldkeypub.txt, else the coldkey file's header); no password needed."""
        try:
            raw = read_private(self.coldkeypub_path, 128)
        except FileNotFoundError:
            return self._read(self.coldkey_path, "coldkey").ss58
        try:
            return _check_ss58(raw.decode("ascii").strip(), f"{self.coldkeypub_path}")
        except UnicodeDecodeError:
            raise KeyfileFormatError(f"{self.coldkeypub_path}: not an ss58 address") from None

    def hotkey(self, name: str = "default", password: str | None = None) -> Keypair:
        path = self.hotkey_path(name)
        kf = self._read(path, f"hotkey {name!r}")
        if kf.encrypted:
            password = self._password(password, f"hotkey {name!r} of wallet {self.name!r}")
        return keyfile.unlock(kf, password, str(path))

    def hotkey_ss58(self, name: str = "default") -> str:
        """A hotkey's address without decrypting it."""
        return self._read(self.hotkey_path(name), f"hotkey {name!r}").ss58

    def hotkey_encrypted(self, name: str = "default") -> bool:
        return self._read(self.hotkey_path(name), f"hotkey {name!r}").encrypted

    def hotkeys(self) -> list[str]:
        d = self.dir / "hotkeys"
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if _NAME.match(p.name) and p.is_file())

    # --- helpers -----------------------------------------------------------------------------
    def _password(self, password: str | None, what: str) -> str:
        pw = resolve_password(password, password_file=self.password_file, password_env=self.password_env, what=what)
        if not pw:
            raise WalletError("the password must not be empty")
        return pw

    def _read(self, path: Path, what: str) -> keyfile.Keyfile:
        try:
            raw = read_private(path, keyfile.MAX_KEYFILE_BYTES)
        except FileNotFoundError:
            if not self.dir.exists():
                raise WalletNotFoundError(f"no wallet {self.name!r} in {self.root}",
                                          hint=f"create it with `neuron wallet create --wallet {self.name}`") from None
            if what == "coldkey" and self.coldkeypub_path.exists():
                raise WalletNotFoundError(f"wallet {self.name!r} is watch-only (no coldkey file)",
                                          hint=f"restore it with `neuron wallet regen coldkey --wallet {self.name}`") from None
            raise WalletNotFoundError(f"wallet {self.name!r} has no {what} ({path})",
                                      hint=f"create it with `neuron wallet new-hotkey --wallet {self.name} --hotkey NAME`"
                                      if what.startswith("hotkey") else None) from None
        return keyfile.parse(raw, str(path))


def _from_mnemonic(mnemonic: str) -> Keypair:
    words = " ".join(str(mnemonic).split())
    try:
        if Keypair.validate_mnemonic(words):
            return Keypair.create_from_mnemonic(words, ss58_format=keyfile.SS58_FORMAT)
    except (ValueError, TypeError):
        pass
    raise WalletError("invalid mnemonic (unknown word or bad checksum)", hint="check the words and their order")


def _check_ss58(ss58: str, what: str) -> str:
    try:
        ss58_decode(ss58)
    except (ValueError, TypeError, IndexError):
        raise KeyfileFormatError(f"{what}: {ss58[:60]!r} is not an ss58 address") from None
    return ss58
