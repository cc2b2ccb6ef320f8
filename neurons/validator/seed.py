"""Challenge seeds a miner cannot precompute: the validator's secret mixed with the block hash.

Each validator keeps a 32-byte secret in its state directory (`challenge.secret`, mode 0600,
created once, never sent anywhere). A step's seed is HMAC-SHA256(secret, netuid:step:block_hash):
miners see neither the secret nor, before the block exists, its hash, so they cannot compute the
seed ahead of time; the validator logs the seed, which replays the exact challenge and reveals
nothing about the secret. What the seed cannot fix is public *content*: a spec must also change
its data per seed (see `SubnetSpec.challenge`), or a miner memorises the public pool.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_FILE = "challenge.secret"
SECRET_BYTES = 32


class SecretFileError(Exception):
    """The validator's challenge secret is unreadable, malformed or readable by others."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def load_or_create_secret(state_dir: str | os.PathLike) -> bytes:
    """The validator's challenge secret, created (0600, exclusively) on first use."""
    path = Path(state_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    secret = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.info("created the challenge secret %s (mode 0600; keep it private, never share it)", path)
    return secret


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(f"{path} is readable by other users (mode {stat.S_IMODE(mode):o})",
                              hint=f"run `chmod 600 {path}`: anyone who reads it can precompute your challenges")
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as e:
        raise SecretFileError(f"{path} is not a hex secret: {e}",
                              hint=f"delete {path}; the validator makes a new one on start") from e
    if len(secret) != SECRET_BYTES:
        raise SecretFileError(f"{path} holds {len(secret)} bytes, expected {SECRET_BYTES}",
                              hint=f"delete {path}; the validator makes a new one on start")
    return secret


def challenge_seed(secret: bytes, block_hash: bytes, netuid: int, step: int) -> int:
    """A 63-bit seed: unpredictable without `secret`, different for every block, subnet and step."""
    if len(secret) < 16:
        raise ValueError("the challenge secret must be at least 16 bytes")
    digest = hmac.new(secret, f"{netuid}:{step}:".encode() + bytes(block_hash), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little") >> 1
