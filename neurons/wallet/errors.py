"""Typed wallet errors. Each carries `hint`: one sentence telling the user what to do next."""
from __future__ import annotations


class WalletError(Exception):
    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class WalletNotFoundError(WalletError):
    """The wallet, or the key asked for, does not exist on disk."""


class WalletExistsError(WalletError):
    """Creating would overwrite an existing key (pass overwrite=True / --overwrite to replace it)."""


class WalletLockedError(WalletError):
    """The key is encrypted and no password was given (argument, password file or env var)."""


class KeyfileError(WalletError):
    """A keyfile cannot be used: malformed, unsupported, tampered with, or the password is wrong."""


class KeyfileFormatError(KeyfileError):
    """The file is not a valid keyfile (bad JSON, unknown version, field out of range, inconsistent key)."""


class DecryptionError(KeyfileError):
    """Authenticated decryption failed: a wrong password, or the file was modified."""
