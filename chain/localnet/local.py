"""`LocalChain`: the subtensor backend on the local Chopsticks chain, plus what only a dev chain
can do: build blocks on demand, rewind to an earlier block, and practical settings on new subnets."""
from __future__ import annotations

from substrateinterface import Keypair

from chain.errors import ChainError
from chain.localnet.bootstrap import LOCAL_TEMPO, make_practical
from chain.subtensor import SubtensorChain


class LocalChain(SubtensorChain):
    def __init__(self, url: str, *, practical: bool = True, tempo: int = LOCAL_TEMPO, **kwargs):
        super().__init__(url, **kwargs)
        self.practical = practical
        self.tempo = tempo

    def advance_blocks(self, n: int = 1) -> int:
        if n < 0:
            raise ChainError(f"cannot advance {n} blocks", hint="n must be >= 0")
        if n:
            self.rpc("dev_newBlock", [{"count": int(n)}])
        return self.block()

    def wait_for_block(self, target: int, timeout: float = 60.0) -> int:
        head = self.block()
        return self.advance_blocks(target - head) if target > head else head

    def reset(self, block: int) -> None:
        """Rewind the chain to `block` (Chopsticks dev_setHead): later state is forgotten."""
        self.rpc("dev_setHead", [int(block)])

    def create_subnet(self, owner: Keypair, hotkey: str | None = None) -> int:
        netuid = super().create_subnet(owner, hotkey)
        if self.practical:
            make_practical(self, netuid, self.tempo)
        return netuid
