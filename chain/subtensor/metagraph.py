"""Read a subnet's metagraph from subtensor storage in a bounded number of RPC calls.

All reads are pinned to one block hash: the per-uid vectors in one `state_queryStorageAt`, the
uid-keyed maps (Keys, BlockAtRegistration, Weights, Bonds) in one more, and the hotkey-keyed values
(Axons, coldkey Owner, stake) in a third: five calls in all, whatever the number of uids (one more
per 2048 keys). Keys are built and values decoded by hand (plain SCALE: u16, u64, AccountId,
Vec<(u16, u16)>, the fixed AxonInfo layout), which keeps a 256-uid read fast.
"""
from __future__ import annotations

import ipaddress

import numpy as np
from scalecodec.utils.ss58 import ss58_encode
from substrateinterface import SubstrateInterface

from chain.errors import UnsupportedError
from chain.subtensor.runtime import RuntimeShape, hashed_keys, query_raw, storage_key
from chain.types import RAO_PER_TAO, U16_MAX, AxonInfo, Metagraph

SS58_FORMAT = 42
#: runtimes with subnet mechanisms key these per (netuid, mechanism): storage index netuid + mechid * 4096
MECHANISM_ITEMS = ("Incentive", "LastUpdate", "Weights", "Bonds")
GLOBAL_MAX_SUBNET_COUNT = 4096
# per-uid Vec<u16> ratios stored as floor(x * 65535)
_RATIOS = ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "Rank", "Trust")
_OTHER = ("ValidatorPermit", "Active", "Emission", "LastUpdate", "PruningScores")
_UINT = {"u8": "u1", "u16": "<u2", "u32": "<u4", "u64": "<u8"}
_AXON_NEEDS = {"version", "ip", "port", "ip_type", "protocol"}


def axon_dtype(mapping) -> np.dtype:
    """The numpy layout of the runtime's SCALE-encoded AxonInfo, from its metadata's field list
    [(name, type)] in declared order (u128 `ip` as two u64 halves): any field order the runtime
    declares reads at numpy speed. UnsupportedError when a needed field is missing or not an integer."""
    fields = []
    for name, type_name in mapping or []:
        if type_name == "u128":
            fields += [(f"{name}_lo", "<u8"), (f"{name}_hi", "<u8")]
        elif type_name in _UINT:
            fields.append((name, _UINT[type_name]))
        else:
            raise UnsupportedError(f"this runtime's AxonInfo field {name!r} has type {type_name!r}, not an integer",
                                   hint="update chain/subtensor/metagraph.py for this runtime version")
    names = {n.removesuffix("_lo").removesuffix("_hi") for n, _ in fields}
    if missing := _AXON_NEEDS - names:
        raise UnsupportedError(f"this runtime's AxonInfo has no {sorted(missing)}: {mapping}",
                               hint="update chain/subtensor/metagraph.py for this runtime version")
    return np.dtype(fields)


def _u16(x: int) -> bytes:
    return int(x).to_bytes(2, "little")


def _compact(data: bytes) -> tuple[int, int]:
    """(value, bytes used) of a SCALE compact integer."""
    mode = data[0] & 3
    if mode == 0:
        return data[0] >> 2, 1
    if mode == 1:
        return int.from_bytes(data[:2], "little") >> 2, 2
    if mode == 2:
        return int.from_bytes(data[:4], "little") >> 2, 4
    size = (data[0] >> 2) + 4
    return int.from_bytes(data[1:1 + size], "little"), 1 + size


def _pairs(data: bytes | None) -> np.ndarray:
    """Vec<(u16, u16)> -> (k, 2) uint16."""
    if not data:
        return np.zeros((0, 2), dtype=np.uint16)
    k, used = _compact(data)
    return np.frombuffer(data, dtype="<u2", count=2 * k, offset=used).reshape(k, 2)


def _matrix(rows: list[bytes | None], n: int) -> np.ndarray:
    """(n, n) float64 of raw u16 values from each uid's Vec<(dest, value)>."""
    m = np.zeros((n, n), dtype=np.float64)
    for i, data in enumerate(rows):
        p = _pairs(data)
        keep = p[:, 0] < n
        m[i, p[keep, 0]] = p[keep, 1]
    return m


def decode_axon(data: bytes | None, dtype: np.dtype) -> AxonInfo | None:
    if not data or len(data) < dtype.itemsize:
        return None
    a = np.frombuffer(data[:dtype.itemsize], dtype=dtype)[0]
    ip = (int(a["ip_hi"]) << 64 | int(a["ip_lo"])) if "ip_lo" in dtype.names else int(a["ip"])
    text = str(ipaddress.IPv6Address(ip) if a["ip_type"] == 6 else ipaddress.IPv4Address(ip & 0xFFFFFFFF))
    return AxonInfo(ip=text, port=int(a["port"]), protocol=int(a["protocol"]), version=int(a["version"]))


def axon_layout_of(runtime_config, type_string: str) -> np.dtype:
    """axon_dtype of the AxonInfo type `type_string` as a runtime's type registry declares it (field
    types resolved to their primitives: u8 … u128)."""
    mapping = getattr(runtime_config.get_decoder_class(type_string), "type_mapping", None) or []
    return axon_dtype([(name, runtime_config.get_decoder_class(t).__name__.lower()) for name, t in mapping])


def _axon_layout(s: SubstrateInterface) -> np.dtype:
    fn = s.metadata.get_metadata_pallet("SubtensorModule").get_storage_function("Axons")
    return axon_layout_of(s.runtime_config, fn.get_value_type_string())


def _vector(values, n: int, dtype) -> np.ndarray:
    out = np.zeros(n, dtype=dtype)
    values = list(values or [])[:n]
    out[: len(values)] = values
    return out


def storage_index(shape: RuntimeShape, item: str, netuid: int, mechid: int = 0) -> int:
    """The first key of `item` for the subnet's mechanism `mechid`: where the metadata keys it by a
    NetUidStorageIndex, netuid + mechid * 4096 (mechanism 0 is the netuid itself), else the netuid;
    UnsupportedError for another mechanism on a runtime that keeps one per subnet."""
    if not 0 <= mechid < GLOBAL_MAX_SUBNET_COUNT // 16:
        raise UnsupportedError(f"mechanism id must be in [0, 256), got {mechid}", hint="mechanism 0 is the default")
    if item not in MECHANISM_ITEMS:
        return netuid
    if shape.key_types("SubtensorModule", item)[:1] == ("NetUidStorageIndex",):
        return netuid + mechid * GLOBAL_MAX_SUBNET_COUNT
    if mechid:
        raise UnsupportedError(f"runtime spec {shape.spec_version} keeps one {item} per subnet: it has no mechanisms",
                               hint="read the default mechanism (--mechid 0)")
    return netuid


def read_metagraph(s: SubstrateInterface, shape: RuntimeShape, netuid: int, block: int | None,
                   mechid: int = 0) -> Metagraph:
    """Mechanism `mechid`'s Incentive, LastUpdate, Weights and Bonds (storage_index); the rest is the subnet's."""
    block_hash = s.get_block_hash(block) if block is not None else s.get_chain_head()
    number = block if block is not None else s.get_block_number(block_hash)
    names = [it for it in ("SubnetworkN",) + _RATIOS + _OTHER if shape.has_storage("SubtensorModule", it)]
    keys = [storage_key(s, "SubtensorModule", it, [storage_index(shape, it, netuid, mechid)]) for it in names]
    vec = {k.storage_function: v.value for k, v in s.query_multi(keys, block_hash=block_hash)}
    n = int(vec.get("SubnetworkN") or 0)

    # uid-keyed double maps (netuid or its storage index, uid): one call
    by_uid = {it: hashed_keys(s, "SubtensorModule", it,
                              [(_u16(storage_index(shape, it, netuid, mechid)), _u16(uid)) for uid in range(n)])
              for it in ("Keys", "BlockAtRegistration", "Weights", "Bonds")}
    raw = query_raw(s, [k for ks in by_uid.values() for k in ks], block_hash) if n else {}
    pks = [raw[k] or bytes(32) for k in by_uid["Keys"]]
    hotkeys = [ss58_encode(pk, SS58_FORMAT) for pk in pks]

    # hotkey-keyed values: axon (netuid, hotkey), coldkey owner, stake — one more call
    axon_layout = _axon_layout(s)
    axon_keys = hashed_keys(s, "SubtensorModule", "Axons", [(_u16(netuid), pk) for pk in pks])
    owner_keys = hashed_keys(s, "SubtensorModule", "Owner", [(pk,) for pk in pks])
    if shape.has_storage("SubtensorModule", "TotalHotkeyAlpha"):      # dTAO: stake is per subnet
        stake_keys = hashed_keys(s, "SubtensorModule", "TotalHotkeyAlpha", [(pk, _u16(netuid)) for pk in pks])
    else:
        stake_keys = hashed_keys(s, "SubtensorModule", "TotalHotkeyStake", [(pk,) for pk in pks])
    raw.update(query_raw(s, axon_keys + owner_keys + stake_keys, block_hash) if n else {})

    u64 = lambda b: int.from_bytes(b[:8], "little") if b else 0  # noqa: E731
    stake_rao = np.array([u64(raw[k]) for k in stake_keys], dtype=np.int64)
    ratios = {it: _vector(vec.get(it), n, np.float64) / U16_MAX for it in _RATIOS}
    return Metagraph(
        netuid=netuid, block=int(number), uids=np.arange(n, dtype=np.int64), hotkeys=hotkeys,
        coldkeys=[ss58_encode(raw[k], SS58_FORMAT) if raw[k] else "" for k in owner_keys],
        stake=stake_rao.astype(np.float64) / RAO_PER_TAO,
        consensus=ratios["Consensus"], incentive=ratios["Incentive"], dividends=ratios["Dividends"],
        validator_trust=ratios["ValidatorTrust"],
        validator_permit=_vector(vec.get("ValidatorPermit"), n, bool),
        emission=_vector(vec.get("Emission"), n, np.float64) / RAO_PER_TAO,
        last_update=_vector(vec.get("LastUpdate"), n, np.int64),
        block_at_registration=np.array([u64(raw[k]) for k in by_uid["BlockAtRegistration"]], dtype=np.int64),
        axons=[decode_axon(raw[k], axon_layout) for k in axon_keys],
        weights=_matrix([raw[k] for k in by_uid["Weights"]], n), bonds=_matrix([raw[k] for k in by_uid["Bonds"]], n),
        extra={"rank": ratios["Rank"], "trust": ratios["Trust"], "active": _vector(vec.get("Active"), n, bool),
               "pruning_scores": _vector(vec.get("PruningScores"), n, np.int64), "block_hash": block_hash,
               "emission_rao": _vector(vec.get("Emission"), n, np.int64), "stake_rao": stake_rao},
    )
