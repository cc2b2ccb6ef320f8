"""`LocalChain`: the subtensor backend on the local Chopsticks chain, plus what only a dev chain
can do: build blocks on demand, rewind to an earlier block, and practical settings on new subnets."""
from __future__ import annotations

import logging

from substrateinterface import Keypair

from chain.errors import ChainError
from chain.localnet.bootstrap import LOCAL_TEMPO, make_practical
from chain.subtensor import SubtensorChain

log = logging.getLogger(__name__)


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

    def faucet(self) -> Keypair:
        """//Alice: funded at genesis on the local chain (chain/localnet/config.py)."""
        return Keypair.create_from_uri("//Alice")

    def reset(self, block: int) -> None:
        """Rewind the chain to `block` (Chopsticks dev_setHead): later state is forgotten."""
        self.rpc("dev_setHead", [int(block)])

    def create_subnet(self, owner: Keypair, hotkey: str | None = None) -> int:
        """A new subnet with the local chain's settings; if a setting fails the subnet is dissolved
        again (sudo), so no half-made netuid is left behind."""
        netuid = super().create_subnet(owner, hotkey)
        if self.practical:
            try:
                make_practical(self, netuid, self.tempo, owner)
            except ChainError as exc:
                self._dissolve(netuid, owner)
                raise ChainError(f"subnet {netuid} was created but could not be set up ({exc}); it was removed again",
                                 name=exc.name, hint=exc.hint) from exc
        return netuid

    def _dissolve(self, netuid: int, owner: Keypair) -> None:
        args = {"coldkey": owner.ss58_address, "netuid": netuid}
        try:
            self.submit("SubtensorModule", "dissolve_network",
                        self.shape.params("SubtensorModule", "dissolve_network", args), self.faucet(), sudo=True)
        except ChainError as exc:
            log.warning("could not dissolve the half-made subnet %d: %s", netuid, exc)

    def start_call(self, netuid: int, owner: Keypair) -> None:
        """The real start_call; when the runtime still makes the subnet wait (DurationOfStartCall blocks
        after its registration), the two storage items start_call would write are set with sudo
        System.set_storage instead (no block spent on a refusal that is known in advance)."""
        if not self.shape.has_call("SubtensorModule", "start_call"):
            return
        if not self._start_call_waits(netuid):
            try:
                super().start_call(netuid, owner)
                return
            except ChainError as exc:
                if exc.name != "NeedWaitingMoreBlocksToStarCall":
                    raise
        first = self.storage_key("SubtensorModule", "FirstEmissionBlockNumber", [netuid])
        enabled = self.storage_key("SubtensorModule", "SubtokenEnabled", [netuid])
        block = (self.block() + 1).to_bytes(8, "little").hex()
        self.submit("System", "set_storage", {"items": [(first, "0x" + block), (enabled, "0x01")]}, self.faucet(),
                    sudo=True)
        log.info("subnet %d: emission started (start_call delay skipped with sudo set_storage)", netuid)

    def _start_call_waits(self, netuid: int) -> bool:
        """start_call in the next block would be refused with NeedWaitingMoreBlocksToStarCall."""
        delay = self._conn.run(lambda s: s.get_constant("SubtensorModule", "DurationOfStartCall"))
        registered = self.query("NetworkRegisteredAt", [netuid]) if self.shape.has_storage(
            "SubtensorModule", "NetworkRegisteredAt") else None
        if delay is None or registered is None:
            return False
        return self.block() + 1 < int(registered) + int(delay.value)
