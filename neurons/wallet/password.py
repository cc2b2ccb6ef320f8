"""Where a key's password comes from when the caller passes none: a password file, then an env var."""
from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from neurons.wallet.errors import WalletError, WalletLockedError

PASSWORD_ENV = "OPENSUBNET_WALLET_PASSWORD"


def read_password_file(path: str | os.PathLike) -> str:
    """The file's first line, without its line ending."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WalletError(f"password file {p} not found", hint="check --password-file / wallet.password_file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise WalletError(f"cannot read password file {p}: {e}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise WalletError(f"password file {p} is empty", hint="write the password on its first line")
    return password


def resolve_password(password: str | None, *, password_file: str | os.PathLike | None,
                     password_env: str | None, what: str) -> str:
    """`password` if given, else the password file, else the env var; WalletLockedError if none is set."""
    if password is not None:
        return password
    if password_file:
        return read_password_file(password_file)
    if password_env and os.environ.get(password_env):
        return os.environ[password_env]
    raise WalletLockedError(
        f"{what} is encrypted and no password was given",
        hint=f"set {password_env or PASSWORD_ENV}, pass --password-file FILE, or run in a terminal to be prompted")


def password_or_prompt(*, password_file: str | os.PathLike | None, password_env: str | None, what: str,
                       confirm: bool = False) -> str:
    """For interactive commands: the password file / env var, else ask on the terminal (twice when `confirm`)."""
    try:
        return resolve_password(None, password_file=password_file, password_env=password_env, what=what)
    except WalletLockedError:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise
    password = getpass.getpass(f"password for {what}: ")
    if not password:
        raise WalletError("the password must not be empty")
    if confirm and getpass.getpass("repeat the password: ") != password:
        raise WalletError("the passwords differ", hint="run the command again")
    return password
