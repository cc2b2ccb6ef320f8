"""Wallets: an encrypted coldkey and named hotkeys (sr25519), plus dev-only wallets from //URIs."""
from __future__ import annotations

from neurons.wallet.dev import DevWallet
from neurons.wallet.errors import (DecryptionError, KeyfileError, KeyfileFormatError, WalletError,
                                   WalletExistsError, WalletLockedError, WalletNotFoundError)
from neurons.wallet.keyfile import DEFAULT_KDF, KdfCost
from neurons.wallet.password import PASSWORD_ENV, password_or_prompt, resolve_password
from neurons.wallet.wallet import DEFAULT_ROOT, NewKeys, Wallet


def open_wallet(name: str, path: str | None = None, *, password_env: str | None = PASSWORD_ENV,
                password_file: str | None = None) -> "Wallet | DevWallet":
    """`//Alice`-style names give a DEV-ONLY in-memory wallet; anything else a wallet on disk."""
    if name.startswith("//"):
        return DevWallet(name)
    return Wallet(name, path, password_env=password_env, password_file=password_file)


def wallet_from_config(section) -> "Wallet | DevWallet":
    """The wallet a config's [wallet] section names (name, path, password_env, password_file)."""
    return open_wallet(section.name, section.path, password_env=section.password_env,
                       password_file=section.password_file)


__all__ = ["Wallet", "wallet_from_config", "password_or_prompt", "resolve_password", "DevWallet", "NewKeys", "open_wallet", "PASSWORD_ENV", "DEFAULT_ROOT", "DEFAULT_KDF", "KdfCost",
           "WalletError", "WalletNotFoundError", "WalletExistsError", "WalletLockedError", "KeyfileError",
           "KeyfileFormatError", "DecryptionError"]
