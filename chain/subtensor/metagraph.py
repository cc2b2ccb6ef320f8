"""Read a subnet's metagraph from subtensor storage in a bounded number of RPC calls.

All reads are pinned to one block hash. Per-uid vectors come in one `state_queryStorageAt`,
each double map (Keys, BlockAtRegistration, Axons, Weights, Bonds) in one paged `query_map`
(pages of 1000 keys), and per-hotkey values (coldkey owner, stake) in one more call, so the
number of calls does not grow with the number of uids (up to 1000 uids).
"""
from __future__ import annotations

import ipaddress

import numpy as np
from scalecodec.utils.ss58 import ss58_decode, ss58_encode
from substrateinterface import SubstrateInterface

from chain.subtensor.runtime import RuntimeShape, account_keys, storage_key
from chain.types import RAO_PER_TAO, U16_MAX, AxonInfo, Metagraph

PAGE = 1000
SS58_FORMAT = 42
# per-uid Vec<u16> ratios stored as floor(x * 65535)
_RATIOS = ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "Rank", "Trust")
_OTHER = ("ValidatorPermit", "Active", "Emission", "LastUpdate", "PruningScores")


def _vector(values, n: int, dtype) -> np.ndarray:
    out = np.zeros(n, dtype=dtype)
    values = list(values or [])[:n]
    out[: len(values)] = values
    return out


def _sparse_rows(rows: dict[int, list], n: int) -> np.ndarray:
    """{uid: [(dest, u16), …]} -> (n, n) float64 of raw u16 values."""
    m = np.zeros((n, n), dtype=np.float64)
    for i, row in rows.items():
        for j, v in row:
            if i < n and j < n:
                m[i, j] = v
    return m


def _axon(value) -> AxonInfo | None:
    if not value:
        return None
    ip = value["ip"]
    text = str(ipaddress.IPv6Address(ip) if value.get("ip_type") == 6 else ipaddress.IPv4Address(ip & 0xFFFFFFFF))
    return AxonInfo(ip=text, port=int(value["port"]), protocol=int(value["protocol"]), version=int(value["version"]))


def read_uid_maps(s: SubstrateInterface, netuid: int, block_hash: str, items: tuple[str, ...]) -> dict[str, dict]:
    """{item: {first key after netuid: value}} for double maps keyed (netuid, uid|hotkey)."""
    out = {}
    for item in items:
        result = s.query_map("SubtensorModule", item, [netuid], block_hash=block_hash, page_size=PAGE)
        out[item] = {k.value: v.value for k, v in result}
    return out


def read_per_hotkey(s: SubstrateInterface, shape: RuntimeShape, netuid: int, hotkeys: list[str],
                    block_hash: str) -> tuple[list[str], list[int]]:
    """(coldkey owner, stake in rao) of every hotkey in one state_queryStorageAt, decoded by hand."""
    if not hotkeys:
        return [], []
    pks = [ss58_decode_bytes(hk) for hk in hotkeys]
    if shape.has_storage("SubtensorModule", "TotalHotkeyAlpha"):      # dTAO: stake is per subnet
        stake_keys = account_keys(s, "SubtensorModule", "TotalHotkeyAlpha", pks, int(netuid).to_bytes(2, "little"))
    else:
        stake_keys = account_keys(s, "SubtensorModule", "TotalHotkeyStake", pks)
    owner_keys = account_keys(s, "SubtensorModule", "Owner", pks)
    result = s.rpc_request("state_queryStorageAt", [owner_keys + stake_keys, block_hash])["result"]
    values = {k: v for change in result for k, v in change["changes"]}
    coldkeys = [ss58_encode(values[k][2:], SS58_FORMAT) if values.get(k) else "" for k in owner_keys]
    stake = [int.from_bytes(bytes.fromhex(values[k][2:]), "little") if values.get(k) else 0 for k in stake_keys]
    return coldkeys, stake


def ss58_decode_bytes(ss58: str) -> bytes:
    return bytes.fromhex(ss58_decode(ss58))


def read_metagraph(s: SubstrateInterface, shape: RuntimeShape, netuid: int, block: int | None) -> Metagraph:
    block_hash = s.get_block_hash(block) if block is not None else s.get_chain_head()
    number = block if block is not None else s.get_block_number(block_hash)
    names = [it for it in ("SubnetworkN",) + _RATIOS + _OTHER if shape.has_storage("SubtensorModule", it)]
    keys = [storage_key(s, "SubtensorModule", it, [netuid]) for it in names]
    vec = {k.storage_function: v.value for k, v in s.query_multi(keys, block_hash=block_hash)}
    n = int(vec.get("SubnetworkN") or 0)

    maps = read_uid_maps(s, netuid, block_hash, ("Keys", "BlockAtRegistration", "Axons", "Weights", "Bonds"))
    hotkeys = [maps["Keys"].get(uid, "") for uid in range(n)]

    coldkeys, stake_rao = read_per_hotkey(s, shape, netuid, hotkeys, block_hash)

    ratios = {it: _vector(vec.get(it), n, np.float64) / U16_MAX for it in _RATIOS}
    return Metagraph(
        netuid=netuid, block=int(number), uids=np.arange(n, dtype=np.int64), hotkeys=hotkeys,
        coldkeys=coldkeys, stake=np.asarray(stake_rao, dtype=np.float64) / RAO_PER_TAO,
        consensus=ratios["Consensus"], incentive=ratios["Incentive"], dividends=ratios["Dividends"],
        validator_trust=ratios["ValidatorTrust"],
        validator_permit=_vector(vec.get("ValidatorPermit"), n, bool),
        emission=_vector(vec.get("Emission"), n, np.float64) / RAO_PER_TAO,
        last_update=_vector(vec.get("LastUpdate"), n, np.int64),
        block_at_registration=np.asarray([maps["BlockAtRegistration"].get(u, 0) for u in range(n)], dtype=np.int64),
        axons=[_axon(maps["Axons"].get(hk)) for hk in hotkeys],
        weights=_sparse_rows(maps["Weights"], n), bonds=_sparse_rows(maps["Bonds"], n),
        extra={"rank": ratios["Rank"], "trust": ratios["Trust"], "active": _vector(vec.get("Active"), n, bool),
               "pruning_scores": _vector(vec.get("PruningScores"), n, np.int64), "block_hash": block_hash,
               "emission_rao": _vector(vec.get("Emission"), n, np.int64),
               "stake_rao": np.asarray(stake_rao, dtype=np.int64)},
    )
