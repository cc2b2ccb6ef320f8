"""DEV ONLY: in-memory wallets from well-known derivation URIs (//Alice, //Bob …).

Anyone can derive these keys; they exist for local runtimes and the dev ledger, where //Alice is sudo
and funded. Never use them on a public network. Hotkey NAME of coldkey URI U is `U//NAME`, unless an
explicit `hotkey_uri` is given (used for every hotkey name).
"""
from __future__ import annotations

from substrateinterface import Keypair

from neurons.wallet.errors import WalletError
from neurons.wallet.keyfile import SS58_FORMAT
from neurons.wallet.wallet import check_name


def _kp(uri: str) -> Keypair:
    try:
        return Keypair.create_from_uri(uri, ss58_format=SS58_FORMAT)
    except (ValueError, TypeError) as e:
        raise WalletError(f"invalid dev key uri {uri!r}: {e}", hint="use a uri like //Alice or //Bob") from None


class DevWallet:
    """Same read API as `Wallet` (coldkey, coldkeypub, hotkey, hotkey_ss58, hotkeys), nothing on disk."""

    def __init__(self, uri: str = "//Alice", hotkey_uri: str | None = None):
        if not uri.startswith("//"):
            raise WalletError(f"dev wallet uri {uri!r} must start with //", hint="e.g. //Alice")
        self.name = uri
        self.uri = uri
        self.hotkey_uri = hotkey_uri
        self._cold = _kp(uri)

    def __repr__(self) -> str:
        return f"DevWallet({self.uri!r})"

    def exists(self) -> bool:
        return True

    def coldkey(self, password: str | None = None) -> Keypair:
        return self._cold

    @property
    def coldkeypub(self) -> str:
        return self._cold.ss58_address

    def hotkey(self, name: str = "default", password: str | None = None) -> Keypair:
        return _kp(self.hotkey_uri or f"{self.uri}//{check_name(name, 'hotkey')}")

    def hotkey_ss58(self, name: str = "default") -> str:
        return self.hotkey(name).ss58_address

    def hotkey_encrypted(self, name: str = "default") -> bool:
        return False

    def hotkeys(self) -> list[str]:
        return ["default"]
