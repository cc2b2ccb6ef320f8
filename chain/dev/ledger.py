"""`DevChain`: the `Chain` interface over the dev ledger file (see chain/dev/__init__.py for the design)."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence
from urllib.parse import parse_qsl

from scalecodec.utils.ss58 import ss58_decode, ss58_encode
from substrateinterface import Keypair

from chain.base import Chain
from chain.dev import extrinsics as xt
from chain.dev import state
from chain.audit import EpochRecord
from chain.dev.blocks import advance, decode_record, step
from chain.dev.metagraph import read_metagraph
from chain.dev.store import Store
from chain.errors import ChainError, UnsupportedError
from chain.local_subnet import LOCAL_SUBNET
from chain.types import RAO_PER_TAO, Hyperparameters, Metagraph

log = logging.getLogger(__name__)

DEV_ACCOUNTS = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")
GENESIS_BALANCE = 1_000_000 * RAO_PER_TAO
#: seconds per block of a ledger a `dev:PATH` url creates (every command): blocks follow the wall
#: clock, so neurons left alone see epochs. `dev:PATH?block_time=0` (or DevChain(path) in code, for
#: tests and harnesses that build blocks themselves) = a block per extrinsic plus advance_blocks.
DEFAULT_BLOCK_TIME = 1.0


def _addr(ss58: str) -> str:
    """Any ss58 address in the generic format 42 (the form the ledger stores); ChainError if invalid."""
    try:
        return ss58_encode(ss58_decode(ss58), 42)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"not an ss58 address: {ss58!r}", hint="pass a hotkey/coldkey ss58 address") from exc


def _subnet_or_root(netuid: int | None) -> int:
    """Stake without a netuid is root stake (it counts on every subnet)."""
    return state.ROOT if netuid is None else int(netuid)


def _parse(spec: str | None, kw: dict) -> tuple[str | None, dict]:
    """'PATH?block_time=0.5&emission_per_block=…' → (PATH, options); keyword arguments win."""
    opts: dict = {}
    if spec and "?" in spec:
        spec, query = spec.split("?", 1)
        for key, value in parse_qsl(query, strict_parsing=True):
            opts[key] = value
    opts.update(kw)
    known = {"block_time", "emission_per_block", "lock_cost"}
    unknown = set(opts) - known
    if unknown:
        raise ChainError(f"unknown dev ledger option(s): {', '.join(sorted(unknown))}",
                         hint=f"options: {', '.join(sorted(known))} (e.g. dev:PATH?block_time=0.5)")
    return spec or None, opts


class DevChain(Chain):
    """The dev ledger in the SQLite file `path` (created with a genesis when missing; None: a temp
    file removed on close). Options (keywords, or the url query): block_time — seconds per block for
    real-time production, 0 = one block per extrinsic plus advance_blocks (stored in the file, so
    every process sharing it agrees; a new ledger without the option gets `new_block_time`: 0 here,
    DEFAULT_BLOCK_TIME from chain.connect("dev:PATH")); emission_per_block — rao
    per block per subnet; lock_cost — rao burned by create_subnet. New subnets get the local chain's
    hyperparameters (chain.local_subnet.LOCAL_SUBNET)."""

    yuma_variant = "current"

    def __init__(self, path: str | None = None, *, new_block_time: float = 0.0, **kw):
        path, opts = _parse(path, kw)
        self._tmpdir = None
        if path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="devchain-")
            path = os.path.join(self._tmpdir, "ledger.sqlite")
        path = os.path.expanduser(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.url = f"dev:{path}"
        self.store = Store(path)
        self._genesis(float(opts.get("block_time", new_block_time)))
        with self.store.write():
            if "block_time" in opts:
                bt = float(opts["block_time"])
                if bt < 0:
                    raise ChainError(f"block_time must be >= 0, got {bt}")
                if bt != float(self.store.get("block_time")):
                    self.store.put("block_time", bt)
                    self.store.put("base_block", self.store.get("head"))
                    self.store.put("base_time", time.time())
            for key in ("emission_per_block", "lock_cost"):
                if key in opts:
                    self.store.put(key, int(float(opts[key])))
        self.sudo_ss58 = self._meta("sudo")
        log.info("dev ledger %s at block %d (%s)", path, self.block(),
                 f"one block every {self._block_time}s" if self._block_time else "one block per extrinsic")

    def _genesis(self, block_time: float) -> None:
        with self.store.write() as db:
            if self.store.get("head") is not None:
                return
            accounts = {n: Keypair.create_from_uri(f"//{n}").ss58_address for n in DEV_ACCOUNTS}
            for ss58 in accounts.values():
                db.execute("INSERT INTO accounts(ss58, free) VALUES(?, ?)", (ss58, GENESIS_BALANCE))
            for key, value in {"head": 0, "sudo": accounts["Alice"], "issuance": GENESIS_BALANCE * len(accounts),
                               "block_time": max(block_time, 0.0), "base_block": 0, "base_time": time.time(),
                               "emission_per_block": RAO_PER_TAO, "lock_cost": 100 * RAO_PER_TAO}.items():
                self.store.put(key, value)

    def _meta(self, key: str) -> str:
        with self.store.read():
            return self.store.get(key)

    @property
    def _block_time(self) -> float:
        return float(self._meta("block_time"))

    # --- blocks ------------------------------------------------------------------------------
    def _sync(self) -> int:
        """Real-time mode: build the blocks the wall clock is owed. Returns the head."""
        with self.store.read():
            bt = float(self.store.get("block_time"))
            head = int(self.store.get("head"))
            base_block, base_time = int(self.store.get("base_block")), float(self.store.get("base_time"))
            emission = int(self.store.get("emission_per_block"))
        if bt <= 0:
            return head
        target = base_block + int((time.time() - base_time) / bt)
        return advance(self.store, target, emission) if target > head else head

    def advance_blocks(self, n: int = 1) -> int:
        if n < 0:
            raise ChainError(f"cannot advance {n} blocks")
        head = self._sync()
        with self.store.write():  # real-time mode: shift the clock's origin so the extra blocks stay built
            self.store.put("base_block", int(self.store.get("base_block")) + n)
        return advance(self.store, head + n, int(self._meta("emission_per_block")))

    def wait_for_block(self, target: int, timeout: float = 60.0) -> int:
        if self._block_time > 0:
            return super().wait_for_block(target, timeout)
        head = self.block()
        return self.advance_blocks(target - head) if target > head else head

    @contextmanager
    def _extrinsic(self, signer: Keypair) -> Iterator[tuple]:
        """The block an extrinsic lands in: a new block per extrinsic (block_time 0), else the
        current real-time block. A failed extrinsic leaves its block built and changes nothing."""
        if not signer.private_key:
            raise ChainError("the signer has no private key", hint="load the wallet's key with its secret, not only its address")
        realtime = self._block_time > 0
        if realtime:
            self._sync()
        failed: ChainError | None = None
        with self.store.write() as db:
            block = int(self.store.get("head"))
            if not realtime:
                block = step(self.store, db, block + 1, int(self.store.get("emission_per_block")))
            try:
                with self.store.savepoint():
                    yield db, block
            except ChainError as exc:  # rejected: the block stays built (as on chain), the call changed nothing
                failed = exc
        if failed is not None:
            raise failed

    # --- reads -------------------------------------------------------------------------------
    def block(self) -> int:
        return self._sync()

    def block_hash(self, n: int) -> bytes:
        """A dev ledger has no real blocks: a fixed hash per number (validators' secrets make seeds private)."""
        if not 0 <= n <= self.block():
            raise ChainError(f"no block {n} on {self.url}", hint="ask for a block between 0 and the head")
        return hashlib.blake2b(f"opensubnet-dev-block:{n}".encode(), digest_size=32).digest()

    def subnets(self) -> list[int]:
        with self.store.read() as db:
            return [r[0] for r in db.execute("SELECT netuid FROM subnets ORDER BY netuid")]

    def uid(self, netuid: int, hotkey: str) -> int | None:
        with self.store.read() as db:
            state.hparams(db, netuid)
            return state.uid_of(db, netuid, _addr(hotkey))

    def hyperparameters(self, netuid: int) -> Hyperparameters:
        with self.store.read() as db:
            return state.hparams(db, netuid)

    def metagraph(self, netuid: int, block: int | None = None, mechid: int = 0) -> Metagraph:
        if mechid:
            raise UnsupportedError(f"the dev ledger has one mechanism per subnet, not mechanism {mechid}",
                                   hint="read the default mechanism (--mechid 0)")
        head = self._sync()
        if block is not None and block != head:
            raise UnsupportedError(f"the dev ledger keeps only its latest state (block {head}), not block {block}",
                                   hint="read the metagraph without a block number")
        with self.store.read() as db:
            return read_metagraph(db, netuid, int(self.store.get("head")))

    def balance(self, ss58: str) -> int:
        with self.store.read() as db:
            return state.free(db, _addr(ss58))

    def stake(self, hotkey: str, coldkey: str | None = None, netuid: int | None = None) -> int:
        """Rao staked on `netuid` (None: the root stake, which counts on every subnet)."""
        with self.store.read() as db:
            return state.stake_of(db, _addr(hotkey), None if coldkey is None else _addr(coldkey),
                                  _subnet_or_root(netuid))

    # --- writes ------------------------------------------------------------------------------
    def transfer(self, signer: Keypair, dest: str, amount: int) -> None:
        with self._extrinsic(signer) as (db, block):
            xt.transfer(db, block, _addr(signer.ss58_address), _addr(dest), int(amount))

    def create_subnet(self, owner: Keypair, hotkey: str | None = None) -> int:
        with self._extrinsic(owner) as (db, block):
            netuid = xt.create_subnet(db, block, _addr(owner.ss58_address), hotkey and _addr(hotkey),
                                      int(self.store.get("lock_cost")), Hyperparameters(**LOCAL_SUBNET))
        log.info("created subnet %d (owner %s)", netuid, owner.ss58_address)
        return netuid

    def register(self, netuid: int, hotkey: str, coldkey: Keypair) -> int:
        hotkey = _addr(hotkey)
        existing = self.uid(netuid, hotkey)
        if existing is not None:
            return existing
        with self._extrinsic(coldkey) as (db, block):
            return xt.register(db, block, netuid, hotkey, _addr(coldkey.ss58_address))

    def serve_axon(self, netuid: int, hotkey: Keypair, ip: str, port: int, protocol: int = 4, version: int = 0) -> None:
        with self._extrinsic(hotkey) as (db, block):
            xt.serve_axon(db, block, netuid, _addr(hotkey.ss58_address), ip, port, protocol, version)

    def add_stake(self, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None = None) -> None:
        with self._extrinsic(coldkey) as (db, block):
            xt.add_stake(db, block, _addr(coldkey.ss58_address), _addr(hotkey), int(amount),
                         _subnet_or_root(netuid))

    def remove_stake(self, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None = None) -> None:
        with self._extrinsic(coldkey) as (db, block):
            xt.remove_stake(db, block, _addr(coldkey.ss58_address), _addr(hotkey), int(amount),
                            _subnet_or_root(netuid))

    def set_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int], version_key: int = 0) -> None:
        with self._extrinsic(hotkey) as (db, block):
            xt.set_weights(db, block, netuid, _addr(hotkey.ss58_address), [int(u) for u in uids],
                           [int(w) for w in weights], int(version_key))

    def commit_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int],
                       salt: Sequence[int], version_key: int = 0) -> str:
        digest = _digest(hotkey, netuid, uids, weights, salt, version_key)
        with self._extrinsic(hotkey) as (db, block):
            xt.commit_weights(db, block, netuid, _addr(hotkey.ss58_address), digest)
        return digest

    def reveal_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int],
                       salt: Sequence[int], version_key: int = 0) -> None:
        digest = _digest(hotkey, netuid, uids, weights, salt, version_key)
        with self._extrinsic(hotkey) as (db, block):
            xt.reveal_weights(db, block, netuid, _addr(hotkey.ss58_address), digest, [int(u) for u in uids],
                              [int(w) for w in weights], int(version_key))

    def weight_commits(self, netuid: int, hotkey: str) -> list[tuple[str, int]]:
        head = self._sync()
        with self.store.read() as db:
            return xt.live_commits(db, head, netuid, _addr(hotkey))

    def set_hyperparameters(self, netuid: int, values: Mapping[str, int | bool], signer: Keypair) -> None:
        if not values:
            return
        with self._extrinsic(signer) as (db, block):   # one savepoint: a refused value undoes the others
            for name, value in values.items():
                xt.set_hyperparameter(db, block, netuid, name, value, _addr(signer.ss58_address), self.sudo_ss58)

    def epoch_record(self, netuid: int, block: int | None = None) -> EpochRecord:
        with self.store.read() as db:
            state.hparams(db, netuid)  # SubNetworkDoesNotExist for an unknown netuid
            row = db.execute("SELECT block, record FROM epochs WHERE netuid=?", (netuid,)).fetchone()
        if row is None:
            raise ChainError(f"no epoch has run on subnet {netuid} yet",
                             hint="wait one tempo (see `neuron subnet hyperparameters`) and audit again")
        if block is not None and block != row[0]:
            raise UnsupportedError(f"the dev ledger keeps only each subnet's latest epoch (block {row[0]}), not block {block}",
                                   hint="audit without --block")
        return decode_record(row[1])

    def faucet(self) -> Keypair:
        return Keypair.create_from_uri("//Alice")

    def close(self) -> None:
        self.store.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


def _digest(hotkey: Keypair, netuid: int, uids, weights, salt, version_key) -> str:
    from chain.subtensor.commit import commit_hash
    return commit_hash(hotkey.public_key, netuid, [int(u) for u in uids], [int(w) for w in weights],
                       [int(s) for s in salt], int(version_key))

