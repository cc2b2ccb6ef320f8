"""`RuntimeShape`: what the connected runtime's metadata says about call and storage shapes.

Runtime versions differ (spec 148: `add_stake(hotkey, amount_staked)`, `register_network()`;
dTAO runtimes: `add_stake(hotkey, netuid, amount_staked)`, `register_network(hotkey[, mechid])`).
The backend asks this object instead of hard-coding one version.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import xxhash

from scalecodec.base import ScaleBytes
from substrateinterface import SubstrateInterface
from substrateinterface.storage import StorageKey

from chain.errors import UnsupportedError

#: the last runtimes before dTAO that run the Yuma epoch of `consensus` variant "spec148"
SPEC148_MAX_VERSION = 200
#: the last dTAO runtime whose epoch we recorded (tests/consensus/recordings293): later ones follow "current"
SPEC293_MAX_VERSION = 293


def storage_key(s: SubstrateInterface, pallet: str, item: str, params: list | None = None) -> StorageKey:
    """A storage key from the loaded metadata, without the RPC round trips of s.create_storage_key."""
    return StorageKey.create_from_storage_function(pallet, item, params or [], runtime_config=s.runtime_config,
                                                   metadata=s.metadata)


def read_storage(s: SubstrateInterface, pallet: str, item: str, params: list | None = None,
                 block_hash: str | None = None):
    """One decoded storage value in one state_getStorage (s.query would first re-check the runtime:
    3 more calls), at the head or at `block_hash`."""
    key = storage_key(s, pallet, item, params)
    data = s.rpc_request("state_getStorage", [key.to_hex(), block_hash])["result"]
    return key.decode_scale_value(ScaleBytes(data) if data else None).value


def _twox128(data: bytes) -> bytes:
    return xxhash.xxh64(data, seed=0).digest()[::-1] + xxhash.xxh64(data, seed=1).digest()[::-1]


_HASHERS = {
    "Blake2_128Concat": lambda d: hashlib.blake2b(d, digest_size=16).digest() + d,
    "Twox64Concat": lambda d: xxhash.xxh64(d, seed=0).digest()[::-1] + d,
    "Identity": lambda d: d,
}


def hashed_keys(s: SubstrateInterface, pallet: str, item: str, rows: list[tuple[bytes, ...]]) -> list[str]:
    """Hex storage keys of pallet.item for rows of SCALE-encoded params, hashed as the metadata says:
    hundreds of keys in milliseconds instead of one metadata walk per key (s.create_storage_key)."""
    fn = s.metadata.get_metadata_pallet(pallet).get_storage_function(item)
    hashers = [_HASHERS[h] for h in fn.get_param_hashers()]
    prefix = _twox128(pallet.encode()) + _twox128(item.encode())
    return ["0x" + (prefix + b"".join(h(p) for h, p in zip(hashers, row))).hex() for row in rows]


def query_raw(s: SubstrateInterface, keys: list[str], block_hash: str, chunk: int = 2048) -> dict[str, bytes | None]:
    """Raw SCALE bytes of many storage keys at one block: one state_queryStorageAt per `chunk` keys."""
    out: dict[str, bytes | None] = dict.fromkeys(keys)
    for i in range(0, len(keys), chunk):
        result = s.rpc_request("state_queryStorageAt", [keys[i:i + chunk], block_hash])["result"]
        for change in result:
            for k, v in change["changes"]:
                out[k] = bytes.fromhex(v[2:]) if v else None
    return out


#: argument names the runtimes use for a subnet mechanism's id (0 = the default mechanism)
MECHANISM_ARGS = ("mechid", "mecid")


def pick_params(fields: tuple[str, ...], available: dict, what: str) -> dict:
    """The call's arguments by name from `available`, in the call's order; a mechanism id (whatever
    the runtime names it) defaults to 0, the default mechanism. Values stay plain Python: the
    metadata's types encode them (a `NetUid` newtype, a one-field composite, takes the bare int)."""
    available = dict(available)
    mech = next((available[k] for k in MECHANISM_ARGS if available.get(k) is not None), 0)
    for k in MECHANISM_ARGS:
        available[k] = mech
    missing = [f for f in fields if available.get(f) is None]
    if missing:
        raise UnsupportedError(f"{what} needs {', '.join(missing)}",
                               hint="pass the missing argument (e.g. netuid for per-subnet staking)")
    return {f: available[f] for f in fields}


def type_name(runtime_config, type_string: str) -> str:
    """A metadata type's own name: the last segment of its scale-info path ("NetUidStorageIndex"), or
    its decoder's name for a primitive ("U16")."""
    cls = runtime_config.get_decoder_class(type_string)
    info = getattr(cls, "scale_info_type", None)
    path = info.value.get("path") if info is not None else None
    return path[-1] if path else cls.__name__


class RuntimeShape:
    def __init__(self, substrate: SubstrateInterface):
        self._metadata = substrate.metadata
        self._runtime_config = substrate.runtime_config
        self.spec_version: int = int(substrate.runtime_version)

    @lru_cache(maxsize=None)
    def call_fields(self, pallet: str, call: str) -> tuple[str, ...] | None:
        """Argument names of pallet.call, or None when the runtime has no such call."""
        try:
            p = self._metadata.get_metadata_pallet(pallet)
        except ValueError:
            return None
        if p is None or p.calls is None:
            return None
        for c in p.calls:
            if c.name == call:
                return tuple(a["name"] for a in c.value["fields"])
        return None

    def has_call(self, pallet: str, call: str) -> bool:
        return self.call_fields(pallet, call) is not None

    @lru_cache(maxsize=None)
    def has_storage(self, pallet: str, item: str) -> bool:
        p = self._metadata.get_metadata_pallet(pallet)
        return p is not None and p.get_storage_function(item) is not None

    @lru_cache(maxsize=None)
    def key_types(self, pallet: str, item: str) -> tuple[str, ...]:
        """Names of a storage map's key types (type_name), () when the runtime has no such item."""
        p = self._metadata.get_metadata_pallet(pallet)
        fn = p.get_storage_function(item) if p is not None else None
        if fn is None:
            return ()
        return tuple(type_name(self._runtime_config, t) for t in fn.get_params_type_string())

    def params(self, pallet: str, call: str, available: dict) -> dict:
        """Pick the arguments pallet.call takes, by name, from `available`; fail clearly when one is missing."""
        fields = self.call_fields(pallet, call)
        if fields is None:
            raise UnsupportedError(f"runtime spec {self.spec_version} has no {pallet}.{call}",
                                   hint="this operation needs a newer (or older) subtensor runtime")
        return pick_params(fields, available, f"{pallet}.{call} on runtime spec {self.spec_version}")

    @property
    def yuma_variant(self) -> str:
        """'spec148' for the pre-dTAO runtimes (epoch of May 2024), 'spec293' for dTAO runtimes up to
        spec 293 (July 2025: no owner exemptions; recorded and reproduced exactly), else 'current'."""
        if not self.has_storage("SubtensorModule", "SubnetTAO"):
            return "spec148" if self.spec_version <= SPEC148_MAX_VERSION else "current"
        return "spec293" if self.spec_version <= SPEC293_MAX_VERSION else "current"

    @property
    def stakes_per_subnet(self) -> bool:
        return "netuid" in (self.call_fields("SubtensorModule", "add_stake") or ())

    def module_error_name(self, module_index: int, error: str | int) -> str:
        """Name of a `{'Module': {'index': i, 'error': '0x..'}}` dispatch error."""
        idx = int(error[2:4], 16) if isinstance(error, str) else int(error)
        try:
            return self._metadata.get_module_error(module_index=module_index, error_index=idx).name
        except Exception:  # noqa: BLE001 - unknown index: still report the raw numbers
            return f"Module{module_index}Error{idx}"
