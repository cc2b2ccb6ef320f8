"""`SubtensorChain`: the `Chain` interface over any subtensor node through substrate-interface."""
from __future__ import annotations

import hashlib
import ipaddress
import logging
from typing import Mapping, Sequence

from scalecodec.utils.ss58 import ss58_decode, ss58_encode
from substrateinterface import Keypair

from chain.base import Chain
from chain.errors import ChainError, ExtrinsicError, UnsupportedError, error_from_name
from chain.subtensor import hyperparams
from chain.subtensor.commit import commit_hash
from chain.subtensor.connection import Connection
from chain.subtensor.extrinsics import Event, Submitter
from chain.subtensor.metagraph import read_metagraph
from chain.subtensor.runtime import RuntimeShape, read_storage, storage_key
from chain.types import Hyperparameters, Metagraph
from chain.weights import reveal_epoch

log = logging.getLogger(__name__)
SS58_FORMAT = 42  # the chain returns generic-format addresses whatever its properties say


def address(ss58: str) -> str:
    """Any ss58 address (any network prefix) in the generic format 42; ChainError when invalid."""
    try:
        return ss58_encode(ss58_decode(ss58), SS58_FORMAT)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"not an ss58 address: {ss58!r}", hint="pass a hotkey/coldkey ss58 address") from exc


#: storage of drand-timelocked commits, newest layout first (v4, then spec 293's CRv3)
_TIMELOCK_STORAGE = ("TimelockedWeightCommits", "CRV3WeightCommitsV2", "CRV3WeightCommits")


def _fields(row, n: int) -> list:
    values = list(row.values()) if isinstance(row, dict) else list(row)
    if len(values) != n:
        raise ChainError(f"unexpected commit record {row!r}", hint="this runtime's commit layout is unknown")
    return values


def _hex(value) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


def _bytes(value) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def _timelock_row(row) -> tuple[str | None, int, bytes]:
    """(who, commit block or -1, ciphertext) of (who, commit, round) [CRv3] or (who, block, commit, round) [v4]."""
    values = list(row.values()) if isinstance(row, dict) else list(row)
    if len(values) == 3:
        return values[0], -1, _bytes(values[1])
    if len(values) == 4:
        return values[0], int(values[1]), _bytes(values[2])
    return None, -1, b""


def u64f64(value) -> float:
    """A U64F64 storage value (substrate-interface gives {'bits': n} or n) as a float."""
    if value is None:
        return 0.0
    bits = value.get("bits", 0) if isinstance(value, dict) else value
    return int(bits) / 2**64


def _event_field(events: list[Event], name: str, index: int):
    for ev in events:
        if ev.name == name:
            attrs = ev.attributes
            return attrs[index] if isinstance(attrs, (list, tuple)) else list(attrs.values())[index]
    return None


class SubtensorChain(Chain):
    """A subtensor node at ws:// or wss:// `url`. `timeout`: seconds without an answer before the
    socket counts as stale and is reopened; `attempts`: tries per call on a dropped socket, the first
    retry after `base_delay` seconds, doubling."""

    def __init__(self, url: str, *, timeout: float = 60.0, attempts: int = 5, base_delay: float = 0.25):
        self.url = url
        self._conn = Connection(url, timeout=timeout, attempts=attempts, base_delay=base_delay)
        self.shape = RuntimeShape(self._conn.substrate)
        self.yuma_variant = self.shape.yuma_variant
        self._tx = Submitter(self._conn, self.shape)
        log.info("connected to %s: runtime spec %d (epoch variant %s)", url, self.shape.spec_version, self.yuma_variant)

    # --- helpers -------------------------------------------------------------------------
    def query(self, item: str, params: list | None = None, *, pallet: str = "SubtensorModule", block: int | None = None):
        """One storage value (decoded), at the head or at `block`."""
        return self._conn.run(lambda s: read_storage(s, pallet, item, params,
                                                     s.get_block_hash(block) if block is not None else None))

    def _refresh_runtime(self) -> None:
        """Reload metadata after a runtime upgrade (one cheap call; run before each metagraph read)."""
        version = self._conn.run(lambda s: s.rpc_request("state_getRuntimeVersion", [])["result"]["specVersion"])
        if version != self.shape.spec_version:
            log.info("runtime upgraded %d -> %d: reloading metadata", self.shape.spec_version, version)
            self._conn.run(lambda s: s.init_runtime())
            self.shape = RuntimeShape(self._conn.substrate)
            self.yuma_variant = self.shape.yuma_variant
            self._tx = Submitter(self._conn, self.shape)

    def submit(self, pallet: str, call: str, params: dict, signer: Keypair, *, sudo: bool = False,
               what: str | None = None) -> list[Event]:
        """Any extrinsic, errors typed (named by `what`, default pallet.call); `sudo=True` wraps it in
        Sudo.sudo and checks the inner result."""
        return self._tx.submit(pallet, call, params, signer, sudo=sudo, what=what)

    def compose_call(self, pallet: str, call: str, params: dict):
        """A call object, e.g. to put several into one Utility.batch_all."""
        return self._conn.run(lambda s: s.compose_call(pallet, call, params))

    def rpc(self, method: str, params: list):
        return self._conn.run(lambda s: s.rpc_request(method, params))["result"]

    def sudo_key(self) -> str | None:
        return self.query("Key", [], pallet="Sudo")

    def storage_key(self, pallet: str, item: str, params: list | None = None) -> str:
        """Hex storage key of pallet.item(params), e.g. for a sudo System.set_storage."""
        return storage_key(self._conn.substrate, pallet, item, params).to_hex()

    # --- reads ---------------------------------------------------------------------------
    def block(self) -> int:
        return int(self._conn.run(lambda s: s.get_block_number(None)))

    def block_hash(self, n: int) -> bytes:
        h = self._conn.run(lambda s: s.get_block_hash(n)) if n >= 0 else None
        if not h:
            raise ChainError(f"no block {n} on {self.url}", hint="ask for a block between 0 and the head")
        return bytes.fromhex(h.removeprefix("0x"))

    def subnets(self) -> list[int]:
        rows = self._conn.run(lambda s: list(s.query_map("SubtensorModule", "NetworksAdded", page_size=1000)))
        return sorted(int(k.value) for k, v in rows if v.value)

    def uid(self, netuid: int, hotkey: str) -> int | None:
        return self.query("Uids", [netuid, address(hotkey)])

    def hyperparameters(self, netuid: int, block: int | None = None) -> Hyperparameters:
        """The subnet's hyperparameters at the head (or at `block`), in one RPC call."""
        self._require_subnet(netuid)
        items = hyperparams.storage_items(self.shape, netuid)

        def read(s):
            keys = [storage_key(s, "SubtensorModule", item, params) for item, params in items.values()]
            block_hash = s.get_block_hash(block) if block is not None else None
            return [v.value for _, v in s.query_multi(keys, block_hash=block_hash)]
        return hyperparams.from_values(dict(zip(items, self._conn.run(read))))

    def metagraph(self, netuid: int, block: int | None = None, mechid: int = 0) -> Metagraph:
        self._refresh_runtime()
        self._require_subnet(netuid)
        return self._conn.run(lambda s: read_metagraph(s, self.shape, netuid, block, mechid))

    def balance(self, ss58: str) -> int:
        return int(self.query("Account", [address(ss58)], pallet="System")["data"]["free"])

    def stake(self, hotkey: str, coldkey: str | None = None, netuid: int | None = None) -> int:
        """Rao of stake; on dTAO runtimes the alpha (in rao units) on subnet `netuid`: the hotkey's
        TotalHotkeyAlpha, or a coldkey's part of it (its Alpha shares over TotalHotkeyShares)."""
        hotkey = address(hotkey)
        if self.shape.stakes_per_subnet:
            if netuid is None:
                raise UnsupportedError(f"runtime spec {self.shape.spec_version} keeps stake per subnet",
                                       hint="pass the netuid (stake is alpha on each subnet)")
            total = int(self.query("TotalHotkeyAlpha", [hotkey, netuid]) or 0)
            if coldkey is None:
                return total
            shares = u64f64(self.query("Alpha", [hotkey, address(coldkey), netuid]))
            all_shares = u64f64(self.query("TotalHotkeyShares", [hotkey, netuid]))
            return int(total * shares / all_shares) if all_shares > 0 else 0
        if coldkey is None:
            return int(self.query("TotalHotkeyStake", [hotkey]) or 0)
        return int(self.query("Stake", [hotkey, address(coldkey)]) or 0)

    def alpha_price(self, netuid: int) -> float:
        """TAO per alpha in the subnet's pool (SubnetTAO / SubnetAlphaIn); 1 on the root network and
        on runtimes without pools."""
        if netuid == 0 or not self.shape.has_storage("SubtensorModule", "SubnetTAO"):
            return 1.0
        tao = int(self.query("SubnetTAO", [netuid]) or 0)
        alpha = int(self.query("SubnetAlphaIn", [netuid]) or 0)
        return tao / alpha if alpha > 0 else 0.0

    def stake_value(self, hotkey: str, coldkey: str | None = None, netuid: int | None = None) -> int:
        """Rao of TAO the stake is worth at the pool price (no slippage)."""
        amount = self.stake(hotkey, coldkey, netuid)
        return int(amount * self.alpha_price(netuid)) if netuid is not None else amount

    def _require_subnet(self, netuid: int) -> None:
        if not self.query("NetworksAdded", [netuid]):
            raise error_from_name("SubNetworkDoesNotExist", f"netuid {netuid}")

    # --- writes --------------------------------------------------------------------------
    def transfer(self, signer: Keypair, dest: str, amount: int) -> None:
        self.submit("Balances", "transfer_keep_alive", {"dest": address(dest), "value": int(amount)}, signer)

    def create_subnet(self, owner: Keypair, hotkey: str | None = None) -> int:
        args = {"hotkey": address(hotkey or owner.ss58_address), "mechid": 1}
        events = self.submit("SubtensorModule", "register_network",
                             self.shape.params("SubtensorModule", "register_network", args), owner)
        netuid = _event_field(events, "NetworkAdded", 0)
        if netuid is None:
            raise ExtrinsicError("register_network gave no NetworkAdded event", name="NoNetworkAdded")
        log.info("created subnet %d (owner %s)", netuid, owner.ss58_address)
        return int(netuid)

    def register(self, netuid: int, hotkey: str, coldkey: Keypair) -> int:
        hotkey = address(hotkey)
        self._require_subnet(netuid)
        uid = self.uid(netuid, hotkey)
        if uid is not None:
            return uid
        events = self.submit("SubtensorModule", "burned_register", {"netuid": netuid, "hotkey": hotkey}, coldkey)
        uid = _event_field(events, "NeuronRegistered", 1)
        return int(uid) if uid is not None else self.uid(netuid, hotkey)

    def serve_axon(self, netuid: int, hotkey: Keypair, ip: str, port: int, protocol: int = 4, version: int = 0) -> None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError as exc:
            raise ChainError(f"not an IP address: {ip!r}", hint="pass a dotted IPv4 or an IPv6 address") from exc
        if not 0 < int(port) < 65536:
            raise ChainError(f"port {port} out of range", hint="use a port in 1..65535")
        args = {"netuid": netuid, "version": int(version), "ip": int(addr), "port": int(port), "ip_type": addr.version,
                "protocol": int(protocol), "placeholder1": 0, "placeholder2": 0}
        self.submit("SubtensorModule", "serve_axon", self.shape.params("SubtensorModule", "serve_axon", args), hotkey)

    def _stake_call(self, call: str, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None,
                    limit_price: float | None = None, allow_partial: bool = False) -> None:
        if amount <= 0:
            raise ChainError(f"stake amount must be positive (got {amount})", hint="amounts are in rao (1 TAO = 1e9)")
        if limit_price is not None:
            if not self.shape.has_call("SubtensorModule", f"{call}_limit"):
                raise UnsupportedError(f"runtime spec {self.shape.spec_version} has no {call}_limit (no price limit)",
                                       hint="stake without a price limit on this runtime")
            if limit_price <= 0:
                raise ChainError(f"price limit must be positive (got {limit_price})", hint="TAO per alpha, e.g. 0.05")
            call = f"{call}_limit"
        args = {"hotkey": address(hotkey), "netuid": netuid, "amount_staked": int(amount), "amount_unstaked": int(amount),
                "limit_price": None if limit_price is None else int(round(limit_price * 1e9)),
                "allow_partial": bool(allow_partial)}
        self.submit("SubtensorModule", call, self.shape.params("SubtensorModule", call, args), coldkey)

    def add_stake(self, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None = None, *,
                  limit_price: float | None = None, allow_partial: bool = False) -> None:
        """`limit_price` (TAO per alpha): refuse to buy above it (add_stake_limit; `allow_partial`
        buys what the price allows)."""
        self._stake_call("add_stake", coldkey, hotkey, amount, netuid, limit_price, allow_partial)

    def remove_stake(self, coldkey: Keypair, hotkey: str, amount: int, netuid: int | None = None, *,
                     limit_price: float | None = None, allow_partial: bool = False) -> None:
        """`limit_price` (TAO per alpha): refuse to sell below it (remove_stake_limit)."""
        self._stake_call("remove_stake", coldkey, hotkey, amount, netuid, limit_price, allow_partial)

    def start_call(self, netuid: int, owner: Keypair) -> None:
        if not self.shape.has_call("SubtensorModule", "start_call"):
            return                                  # before dTAO a subnet emits without it
        self.submit("SubtensorModule", "start_call", {"netuid": netuid}, owner)

    def set_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int], version_key: int = 0) -> None:
        uids, weights = [int(u) for u in uids], [int(w) for w in weights]
        if len(uids) != len(weights):
            raise error_from_name("WeightVecNotEqualSize", f"{len(uids)} uids, {len(weights)} weights")
        self.submit("SubtensorModule", "set_weights",
                    {"netuid": netuid, "dests": uids, "weights": weights, "version_key": int(version_key)}, hotkey)

    def commit_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int],
                       salt: Sequence[int], version_key: int = 0) -> str:
        self._require_call("commit_weights")
        # runtimes before the salt (spec 185) hash without it: follow reveal_weights' arguments
        salted = "salt" in (self.shape.call_fields("SubtensorModule", "reveal_weights") or ())
        digest = commit_hash(hotkey.public_key, netuid, uids, weights, salt if salted else None, version_key)
        self.submit("SubtensorModule", "commit_weights", {"netuid": netuid, "commit_hash": digest}, hotkey)
        return digest

    def reveal_weights(self, netuid: int, hotkey: Keypair, uids: Sequence[int], weights: Sequence[int],
                       salt: Sequence[int], version_key: int = 0) -> None:
        self._require_call("reveal_weights")
        args = {"netuid": netuid, "uids": [int(u) for u in uids], "values": [int(w) for w in weights],
                "salt": [int(s) for s in salt], "version_key": int(version_key)}
        self.submit("SubtensorModule", "reveal_weights", self.shape.params("SubtensorModule", "reveal_weights", args),
                    hotkey)

    def pending_extrinsics(self, ss58: str) -> int:
        # the node's next index counts the account's extrinsics in its pool; the stored nonce does not
        # (read in this order, an extrinsic included in between counts as pending, never as neither)
        who = address(ss58)
        next_index = self._conn.run(lambda s: s.rpc_request("system_accountNextIndex", [who])["result"])
        nonce = (self.query("Account", [who], pallet="System") or {}).get("nonce", 0)
        return max(0, int(next_index) - int(nonce))

    def weight_commits(self, netuid: int, hotkey: str) -> list[tuple[str, int]]:
        hk, head = address(hotkey), self.block()
        out: list[tuple[str, int]] = []
        if self.shape.has_storage("SubtensorModule", "WeightCommits"):
            # VecDeque<(hash, commit_block, first_reveal_block, last_reveal_block)>
            for row in self.query("WeightCommits", [netuid, hk]) or []:
                digest, commit_block, _, last = _fields(row, 4)
                if head <= int(last):
                    out.append((_hex(digest), int(commit_block)))
        item = next((i for i in _TIMELOCK_STORAGE if self.shape.has_storage("SubtensorModule", i)), None)
        if item is not None:   # keyed by (netuid, epoch): look at the epochs a live commit can be in
            hp = self.hyperparameters(netuid)
            now = reveal_epoch(head, netuid, hp.tempo)
            for epoch in range(max(now - hp.commit_reveal_period - 1, 0), now + 2):
                for row in self.query(item, [netuid, epoch]) or []:
                    who, commit_block, commit = _timelock_row(row)
                    if who is not None and address(who) == hk:
                        out.append(("0x" + hashlib.blake2b(commit, digest_size=32).hexdigest(), commit_block))
        return out

    def timelock_call(self) -> str | None:
        return next((c for c in ("commit_timelocked_weights", "commit_crv3_weights")
                     if self.shape.has_call("SubtensorModule", c)), None)

    def commit_timelocked_weights(self, netuid: int, hotkey: Keypair, ciphertext: bytes, reveal_round: int) -> None:
        call = self.timelock_call()
        if call is None:
            raise UnsupportedError(f"runtime spec {self.shape.spec_version} has no drand-timelocked commits",
                                   hint="use hash commit-reveal (commit_weights, then reveal_weights)")
        version = self.query("CommitRevealWeightsVersion") if self.shape.has_storage(
            "SubtensorModule", "CommitRevealWeightsVersion") else None
        args = {"netuid": netuid, "commit": "0x" + bytes(ciphertext).hex(), "reveal_round": int(reveal_round),
                "commit_reveal_version": version}
        self.submit("SubtensorModule", call, self.shape.params("SubtensorModule", call, args), hotkey)

    def _require_call(self, call: str) -> None:
        if not self.shape.has_call("SubtensorModule", call):
            raise UnsupportedError(f"runtime spec {self.shape.spec_version} has no {call} (no commit-reveal)",
                                   hint="set weights directly with set_weights on this chain")

    def set_hyperparameters(self, netuid: int, values: Mapping[str, int | bool], signer: Keypair) -> None:
        """Several values go in one Utility.batch_all (one block; the first refusal undoes the rest)."""
        if not values:
            return
        self._require_subnet(netuid)
        calls = [hyperparams.setter(self.shape, netuid, name, value) for name, value in values.items()]
        # the sudo key wraps the call in Sudo.sudo; a subnet owner calls AdminUtils directly
        as_sudo = address(signer.ss58_address) == self.sudo_key()
        if len(calls) == 1:
            self.submit("AdminUtils", *calls[0], signer, sudo=as_sudo)
        else:
            batch = [self.compose_call("AdminUtils", call, params) for call, params in calls]
            self.submit("Utility", "batch_all", {"calls": batch}, signer, sudo=as_sudo,
                        what=f"Utility.batch_all of AdminUtils.{', '.join(call for call, _ in calls)}")

    def epoch_record(self, netuid: int, block: int | None = None):
        from chain.subtensor.epoch import epoch_record
        return epoch_record(self, netuid, block)

    # --- blocks --------------------------------------------------------------------------
    def advance_blocks(self, n: int = 1) -> int:
        raise UnsupportedError("a public subtensor node produces blocks on its own schedule",
                               hint="use wait_for_block(target), or the local chain (`local`) to build blocks on demand")

    def close(self) -> None:
        self._conn.close()
