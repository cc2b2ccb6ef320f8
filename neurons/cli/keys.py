"""What the chain commands share: TAO amounts from the command line, the wallet's coldkey, a hotkey
given by address or by name, and one line for an amount."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from neurons.cli.errors import CLIError

RAO_PER_TAO = 10**9


def tao_to_rao(text: str, what: str = "--amount") -> int:
    """'1.5' -> 1_500_000_000; a CLIError for anything that is not a positive amount with at most 9 decimals."""
    try:
        tao = Decimal(str(text).strip())
    except InvalidOperation:
        raise CLIError(f"{what} {text!r} is not a number", hint="give TAO as a decimal number, e.g. --amount 1.5") from None
    if not tao.is_finite() or tao <= 0:
        raise CLIError(f"{what} must be a positive number of TAO, got {text!r}")
    rao = tao * RAO_PER_TAO
    if rao != rao.to_integral_value():
        raise CLIError(f"{what} {text!r} has more than 9 decimals", hint="1 rao = 0.000000001 TAO is the smallest unit")
    return int(rao)


def tao(rao: int) -> str:
    """Rao as TAO text with all 9 decimals, e.g. '1.500000000 TAO'."""
    return f"{Decimal(int(rao)) / RAO_PER_TAO:.9f} TAO"


def open_wallet(cfg):
    from neurons.wallet import wallet_from_config
    return wallet_from_config(cfg.wallet)


def coldkey(cfg):
    """(wallet, its coldkey Keypair); the password comes from --password-file, the env var, or a prompt."""
    wallet = open_wallet(cfg)
    return wallet, wallet.coldkey()


def is_ss58(text: str) -> bool:
    from scalecodec.utils.ss58 import ss58_decode
    try:
        ss58_decode(text)
        return True
    except (ValueError, TypeError, IndexError):
        return False


def hotkey_address(wallet, value: str) -> str:
    """An ss58 address as given, else the address of the wallet's hotkey of that name."""
    return value if is_ss58(value) else wallet.hotkey_ss58(value)
