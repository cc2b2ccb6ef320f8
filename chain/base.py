"""`Chain`: the one interface every backend implements (subtensor, local runtime, dev ledger).

Amounts are integers in rao (1 TAO = 10**9 rao). Signers are substrate-interface `Keypair`s:
coldkeys sign registration and staking, hotkeys sign serve_axon and weights, `sudo` is the
chain's sudo key (//Alice on local chains).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Mapping, Sequence

from substrateinterface import Keypair

from chain.types import Hyperparameters, Metagraph

if TYPE_CHECKING:
    from chain.audit import EpochRecord


class Chain(ABC):
    url: str
    #: consensus variant the chain's epoch follows (consensus.params.VARIANTS)
    yuma_variant: str = "current"

    # --- reads -----------------------------------------------------------------------------
    @abstractmethod
    def block(self) -> int: ...

    @abstractmethod
    def block_hash(self, n: int) -> bytes:
        """The 32-byte hash of block `n` (0 <= n <= head); ChainError otherwise."""

    @abstractmethod
    def subnets(self) -> list[int]: ...

    @abstractmethod
    def uid(self, netuid: int, hotkey: str) -> int | None: ...

    @abstractmethod
    def hyperparameters(self, netuid: int) -> Hyperparameters: ...

    @abstractmethod
    def metagraph(self, netuid: int, block: int | None = None, mechid: int = 0) -> Metagraph:
        """The subnet at the head (or `block`); Incentive, LastUpdate, Weights and Bonds of mechanism
        `mechid` where the runtime has mechanisms (0: the default)."""

    @abstractmethod
    def balance(self, ss58: str) -> int: ...

    @abstractmethod
    def stake(self, hotkey: str, coldkey: str | None = None, netuid: int | None = None) -> int: ...

    def stake_value(self, hotkey: str, coldkey: str | None = None, netuid: int | None = None) -> int:
        """Rao of TAO the stake is worth at the current price. Where stake is TAO (the dev ledger,
        pre-dTAO runtimes) that is the stake itself; dTAO backends price the alpha at the pool."""
        return self.stake(hotkey, coldkey, netuid)

    # --- writes ----------------------------------------------------------------------------
    @abstractmethod
    def transfer(self, signer: Keypair, dest: str, amount: int) -> None: ...

    @abstractmethod
    def create_subnet(self, owner: Keypair, hotkey: str | None = None) -> int: ...

    @abstractmethod
    def register(self, netuid: int, hotkey: str, coldkey: Keypair) -> int:
        """Burned registration; returns the uid. Idempotent: an already registered hotkey returns its uid."""

    @abstractmethod
    def serve_axon(self, netuid: int, hotkey: Keypair, ip: str, port: int, protocol: int = 4, version: int = 0) -> None: ...

    @abstractmethod
    def add_stake(self, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None = None) -> None: ...

    @abstractmethod
    def remove_stake(self, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None = None) -> None: ...

    @abstractmethod
    def set_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int], version_key: int = 0) -> None:
        """Raw u16 weights (see chain.weights.scores_to_u16 to get them from float scores)."""

    @abstractmethod
    def commit_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int],
                       salt: Sequence[int], version_key: int = 0) -> str:
        """Commit the hash of these weights (as this runtime computes it); returns the hash (0x-hex)."""

    @abstractmethod
    def reveal_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int],
                       salt: Sequence[int], version_key: int = 0) -> None: ...

    def start_call(self, netuid: int, owner: Keypair) -> None:
        """Start the subnet's emission (dTAO runtimes: a new subnet emits nothing until its owner calls
        start_call). Chains whose subnets emit from creation do nothing."""

    def weight_commits(self, netuid: int, hotkey: str) -> list[tuple[str, int]]:
        """The hotkey's live (not yet revealed, not expired) weight commits on the subnet, oldest
        first, as (commit hash hex, commit block); drand-timelocked commits as (blake2-256 hex of the
        ciphertext, commit block)."""
        from chain.errors import UnsupportedError
        raise UnsupportedError(f"{type(self).__name__} cannot list weight commits",
                               hint="commit-reveal needs the dev ledger or a subtensor runtime with commit-reveal")

    def pending_extrinsics(self, ss58: str) -> int:
        """How many extrinsics signed by `ss58` wait in the node's transaction pool, not yet in a block
        (they may still land). A chain that applies each extrinsic at once (the dev ledger) has none."""
        return 0

    def timelock_call(self) -> str | None:
        """The runtime's drand-timelocked weights commit call (`commit_timelocked_weights`, or
        `commit_crv3_weights` on spec 293), or None when it has none (hash commit-reveal only)."""
        return None

    def commit_timelocked_weights(self, netuid: int, hotkey: Keypair, ciphertext: bytes, reveal_round: int) -> None:
        """Submit a drand-timelocked commit (see chain.subtensor.timelock.encrypt_weights)."""
        from chain.errors import UnsupportedError
        raise UnsupportedError(f"{type(self).__name__} has no drand-timelocked commits",
                               hint="use hash commit-reveal (commit_weights, then reveal_weights)")

    @abstractmethod
    def set_hyperparameters(self, netuid: int, values: Mapping[str, int | bool], signer: Keypair) -> None:
        """Set fields of `Hyperparameters` by name in one extrinsic, all or none (sudo, or the subnet
        owner for the fields the chain lets an owner set)."""

    def set_hyperparameter(self, netuid: int, name: str, value: int | bool, sudo: Keypair) -> None:
        """Set one field of `Hyperparameters` by name."""
        self.set_hyperparameters(netuid, {name: value}, sudo)

    # --- history --------------------------------------------------------------------------
    def epoch_record(self, netuid: int, block: int | None = None) -> "EpochRecord":
        """Inputs and stored outputs of the subnet's epoch that ran in `block` (default: the latest),
        for `neuron audit` (chain/audit.py)."""
        from chain.errors import UnsupportedError
        raise UnsupportedError(f"{type(self).__name__} cannot read back an epoch's inputs")

    # --- local and dev chains only (the public network raises UnsupportedError) -----------
    def faucet(self) -> Keypair:
        """The funded dev account that `neuron wallet fund` pays from."""
        from chain.errors import UnsupportedError
        raise UnsupportedError(f"{self.url} has no faucet: only a dev ledger (dev:PATH) or the local runtime "
                               "(`local`) funds keys", hint="ask a holder of TAO to run `neuron transfer --wallet THEIRS --dest YOUR_COLDKEY --amount TAO`")

    @abstractmethod
    def advance_blocks(self, n: int = 1) -> int:
        """Produce n blocks now; returns the new head."""

    def wait_for_block(self, target: int, timeout: float = 60.0) -> int:
        """Block until the head reaches `target` (default: poll; dev/local backends may advance)."""
        import time
        deadline = time.monotonic() + timeout
        while (head := self.block()) < target:
            if time.monotonic() > deadline:
                from chain.errors import ChainError
                raise ChainError(f"block {target} not reached within {timeout:.0f}s (head {head})",
                                 hint="is the chain producing blocks? for a local chain run `neuron localnet status`")
            time.sleep(0.2)
        return head

    def close(self) -> None:
        """Release connections / processes this object owns."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
