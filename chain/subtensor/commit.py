"""Commit-reveal: the hash a weights commit carries, as the runtime recomputes it at reveal.

BlakeTwo256 over the SCALE encoding of (account_id, netuid: u16, uids: Vec<u16>, values: Vec<u16>,
salt: Vec<u16>, version_key: u64) (`BlakeTwo256::hash_of` in do_reveal_weights; a `NetUid` newtype
encodes as its u16). Spec 185 hashed the same tuple without the salt.
"""
from __future__ import annotations

import hashlib
from typing import Sequence


def compact(n: int) -> bytes:
    """SCALE compact encoding of a non-negative integer."""
    if n < 0:
        raise ValueError("compact integers are non-negative")
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    body = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([((len(body) - 4) << 2) | 3]) + body


def vec_u16(values: Sequence[int]) -> bytes:
    return compact(len(values)) + b"".join(int(v).to_bytes(2, "little") for v in values)


def commit_hash(account_id: bytes, netuid: int, uids: Sequence[int], values: Sequence[int],
                salt: Sequence[int] | None, version_key: int) -> str:
    """`salt` None: the unsalted hash of the first commit-reveal runtimes (spec 185, May 2024)."""
    if len(account_id) != 32:
        raise ValueError("account_id must be the 32-byte public key")
    data = (bytes(account_id) + int(netuid).to_bytes(2, "little") + vec_u16(uids) + vec_u16(values)
            + (b"" if salt is None else vec_u16(salt)) + int(version_key).to_bytes(8, "little"))
    return "0x" + hashlib.blake2b(data, digest_size=32).hexdigest()
