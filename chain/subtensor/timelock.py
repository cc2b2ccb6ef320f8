"""Drand-timelocked weights commits (CRv3 `commit_crv3_weights` on spec 293, v4
`commit_timelocked_weights` on today's chain), built with the field's own library, `bittensor-drand`.

The payload is the SCALE encoding the runtime decodes after the drand pulse of `reveal_round` is on
chain (pallets/subtensor coinbase/reveal_commits.rs): `WeightsTlockPayload {hotkey: Vec<u8>, uids:
Vec<u16>, values: Vec<u16>, version_key: u64}` on v4, the same without `hotkey` on spec 293. It is
encrypted to the drand quicknet round with identity-based timelock encryption: nobody, the
committer included, can read it before that round's BLS signature is published.
"""
from __future__ import annotations

from typing import Sequence

from chain.subtensor.commit import compact, vec_u16

#: drand quicknet (the beacon subtensor's pallet_drand follows): genesis unix time, seconds per round
QUICKNET_GENESIS = 1692803367
QUICKNET_PERIOD = 3


def round_at(unix_time: float) -> int:
    """The quicknet round published at `unix_time` (the first round whose time is >= it)."""
    if unix_time <= QUICKNET_GENESIS:
        return 1
    return int(-(-(unix_time - QUICKNET_GENESIS) // QUICKNET_PERIOD)) + 1


def weights_payload(uids: Sequence[int], values: Sequence[int], version_key: int, *, hotkey: bytes | None = None) -> bytes:
    """SCALE bytes of the payload; `hotkey` (32-byte public key) for v4, None for spec 293's CRv3."""
    if len(uids) != len(values):
        raise ValueError(f"{len(uids)} uids but {len(values)} weights")
    head = b"" if hotkey is None else compact(len(hotkey)) + bytes(hotkey)
    return head + vec_u16(uids) + vec_u16(values) + int(version_key).to_bytes(8, "little")


def decode_payload(data: bytes, *, with_hotkey: bool) -> tuple[bytes | None, list[int], list[int], int]:
    """(hotkey, uids, values, version_key) from payload bytes (the inverse of weights_payload)."""
    from chain.subtensor.metagraph import _compact
    pos, hotkey = 0, None
    if with_hotkey:
        k, used = _compact(data)
        hotkey, pos = data[used:used + k], used + k
    vecs = []
    for _ in range(2):
        k, used = _compact(data[pos:])
        pos += used
        vecs.append([int.from_bytes(data[pos + 2 * i: pos + 2 * i + 2], "little") for i in range(k)])
        pos += 2 * k
    if len(data) != pos + 8:
        raise ValueError(f"payload has {len(data) - pos} bytes after the weights, expected 8 (version_key)")
    return hotkey, vecs[0], vecs[1], int.from_bytes(data[pos:], "little")


def encrypt(payload: bytes, reveal_round: int) -> bytes:
    """The ciphertext (compressed TLE, as the runtime deserialises it) for drand round `reveal_round`."""
    import bittensor_drand
    ciphertext, _ = bittensor_drand.encrypt_at_round(payload, int(reveal_round))
    return bytes(ciphertext)


def decrypt(ciphertext: bytes, signature_hex: str) -> bytes:
    """Open a ciphertext with the round's drand signature (ValueError for a wrong one)."""
    import bittensor_drand
    return bytes(bittensor_drand.decrypt_with_signature(ciphertext, signature_hex))
