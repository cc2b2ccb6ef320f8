"""Keyfile format v1: one sr25519 key per file, canonical JSON, optionally password-encrypted.

    {"format": "opensubnet-keyfile", "version": 1, "crypto_type": "sr25519",
     "ss58": "5F…", "public_key": "<32 bytes hex>",
     "secret": {"private_key": "<64 bytes hex>", "mnemonic": "words …" | null} | null,
     "encryption": {"kdf": {"name": "scrypt", "log2_n": 17, "r": 8, "p": 1, "salt": "<16 bytes hex>"},
                    "cipher": "chacha20-poly1305", "nonce": "<12 bytes hex>",
                    "ciphertext": "<hex of the encrypted `secret` JSON + 16-byte tag>"} | null}

Exactly one of `secret` (plaintext key) and `encryption` is set. The AEAD's associated data is the
file's header (the whole file with an empty ciphertext), so a change to any field fails decryption.
A plaintext secret must carry its mnemonic: the second half of an sr25519 secret (the signing nonce
seed) does not affect the public key, so only the mnemonic can show that it is intact.
A file must be byte-for-byte the canonical dump of what it parses to, and its secret must derive its
public key and ss58 address: any modified byte is an error, never a different key.
Parsing is a pure function of bytes and raises only `KeyfileError` subclasses.
"""
from __future__ import annotations

import os
import unicodedata
from typing import Annotated, Literal, NamedTuple

import pydantic_core
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from substrateinterface import Keypair, KeypairType

from neurons.wallet.errors import DecryptionError, KeyfileError, KeyfileFormatError

FORMAT = "opensubnet-keyfile"
VERSION = 1
SS58_FORMAT = 42
MAX_KEYFILE_BYTES = 16 * 1024

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


def _hex(n_bytes: int | None = None, max_bytes: int = 4096):
    if n_bytes is not None:
        return Annotated[str, StringConstraints(pattern=rf"^[0-9a-f]{{{2 * n_bytes}}}$")]
    return Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{2})*$", max_length=2 * max_bytes)]


class KdfCost(NamedTuple):
    log2_n: int = 17
    r: int = 8
    p: int = 1


#: What new encrypted keyfiles use: scrypt N=2**17, r=8, p=1 (~128 MiB, ~0.25 s per unlock).
DEFAULT_KDF = KdfCost()


class Kdf(BaseModel):
    model_config = _STRICT
    name: Literal["scrypt"]
    log2_n: int = Field(ge=10, le=18)   # with r <= 8: a file demands at most 2**18 * 8 * 128 B = 256 MiB
    r: int = Field(ge=1, le=8)
    p: int = Field(ge=1, le=2)          # and at most ~2 s of CPU
    salt: _hex(16)


class Encryption(BaseModel):
    model_config = _STRICT
    kdf: Kdf
    cipher: Literal["chacha20-poly1305"]
    nonce: _hex(12)
    ciphertext: _hex()


class Secret(BaseModel):
    model_config = _STRICT
    private_key: _hex(64)
    mnemonic: Annotated[str, StringConstraints(pattern=r"^[a-z]+( [a-z]+){11,23}$", max_length=300)] | None = None


class Keyfile(BaseModel):
    model_config = _STRICT
    format: Literal["opensubnet-keyfile"]
    version: Literal[1]
    crypto_type: Literal["sr25519"]
    ss58: Annotated[str, StringConstraints(pattern=r"^[1-9A-HJ-NP-Za-km-z]{40,50}$")]
    public_key: _hex(32)
    secret: Secret | None
    encryption: Encryption | None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.secret is None) == (self.encryption is None):
            raise ValueError("exactly one of 'secret' and 'encryption' must be set")
        return self

    @property
    def encrypted(self) -> bool:
        return self.encryption is not None


def dump(kf: Keyfile) -> bytes:
    return kf.model_dump_json(indent=2).encode() + b"\n"


def _validation_message(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "file"
    more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
    return f"{loc}: {err['msg']}{more}"


def parse(raw: bytes, source: str = "keyfile") -> Keyfile:
    """Validate keyfile bytes (size, JSON, schema, canonical form, key consistency); no password needed."""
    if len(raw) > MAX_KEYFILE_BYTES:
        raise KeyfileFormatError(f"{source}: {len(raw)} bytes is too large for a keyfile (max {MAX_KEYFILE_BYTES})")
    try:
        obj = pydantic_core.from_json(raw)
    except ValueError as e:
        raise KeyfileFormatError(f"{source}: not a JSON keyfile ({e})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise KeyfileFormatError(f"{source}: not an opensubnet keyfile (no \"format\": \"{FORMAT}\")")
    version = obj.get("version")
    if version != VERSION or type(version) is not int:
        raise KeyfileFormatError(f"{source}: unsupported keyfile version {version!r} (this build reads {VERSION})",
                                 hint="upgrade opensubnet, or regenerate the key from its mnemonic")
    try:
        kf = Keyfile.model_validate(obj)
    except ValidationError as e:
        raise KeyfileFormatError(f"{source}: invalid keyfile: {_validation_message(e)}") from None
    if dump(kf) != raw:
        raise KeyfileFormatError(f"{source}: keyfile is not in canonical form (it was edited or corrupted)")
    try:
        derived = Keypair(public_key=bytes.fromhex(kf.public_key), ss58_format=SS58_FORMAT).ss58_address
    except ValueError:
        derived = None
    if derived != kf.ss58:
        raise KeyfileFormatError(f"{source}: ss58 address does not match the public key (file corrupted)")
    if kf.secret is not None:
        if kf.secret.mnemonic is None:
            raise KeyfileFormatError(f"{source}: plaintext keyfile without its mnemonic: the key cannot be checked",
                                     hint="restore the key from its mnemonic with `neuron wallet regen coldkey|hotkey`")
        keypair_from(kf, kf.secret, source)
    return kf


def keypair_from(kf: Keyfile, secret: Secret, source: str = "keyfile") -> Keypair:
    """The keypair of `secret`, checked against the file's public key (and its mnemonic, when stored)."""
    try:
        kp = Keypair.create_from_private_key(bytes.fromhex(secret.private_key), ss58_format=SS58_FORMAT,
                                             crypto_type=KeypairType.SR25519)
    except ValueError as e:
        raise KeyfileFormatError(f"{source}: invalid sr25519 private key ({e})") from None
    if kp.public_key.hex() != kf.public_key:
        raise KeyfileFormatError(f"{source}: private key does not match the public key (file corrupted)")
    if secret.mnemonic is None:
        return kp
    try:
        from_words = Keypair.create_from_mnemonic(secret.mnemonic, ss58_format=SS58_FORMAT)
    except (ValueError, TypeError):
        from_words = None
    if from_words is None or from_words.private_key != kp.private_key:
        raise KeyfileFormatError(f"{source}: stored mnemonic does not match the key (file corrupted)")
    return from_words


def _cipher_key(password: str, kdf: Kdf) -> bytes:
    """scrypt over the NFKC-normalised password (the same typed text gives the same key everywhere)."""
    pw = unicodedata.normalize("NFKC", password).encode("utf-8", "surrogatepass")
    try:
        return Scrypt(salt=bytes.fromhex(kdf.salt), length=32, n=2 ** kdf.log2_n, r=kdf.r, p=kdf.p).derive(pw)
    except (ValueError, MemoryError) as e:
        raise KeyfileError(f"cannot derive the key (scrypt N=2**{kdf.log2_n}, r={kdf.r}, p={kdf.p}): {e}") from None


def _header_bytes(kf: Keyfile) -> bytes:
    """The associated data: the file as it would be with an empty ciphertext."""
    assert kf.encryption is not None
    return dump(kf.model_copy(update={"encryption": kf.encryption.model_copy(update={"ciphertext": ""})}))


def build(kp: Keypair, *, password: str | None, kdf: KdfCost = DEFAULT_KDF) -> Keyfile:
    """A keyfile for `kp` (with its mnemonic when it has one): plaintext when password is None."""
    secret = Secret(private_key=kp.private_key.hex(), mnemonic=getattr(kp, "mnemonic", None) or None)
    header = dict(format=FORMAT, version=VERSION, crypto_type="sr25519", ss58=kp.ss58_address,
                  public_key=kp.public_key.hex())
    if password is None:
        if secret.mnemonic is None:
            raise ValueError("a key without a mnemonic can only be stored encrypted: give a password")
        return Keyfile(**header, secret=secret, encryption=None)
    if not password:
        raise ValueError("the password must not be empty")
    kdf = Kdf(name="scrypt", log2_n=kdf.log2_n, r=kdf.r, p=kdf.p, salt=os.urandom(16).hex())
    nonce = os.urandom(12)
    enc = Encryption(kdf=kdf, cipher="chacha20-poly1305", nonce=nonce.hex(), ciphertext="")
    kf = Keyfile(**header, secret=None, encryption=enc)
    ct = ChaCha20Poly1305(_cipher_key(password, kdf)).encrypt(nonce, secret.model_dump_json().encode(), _header_bytes(kf))
    return kf.model_copy(update={"encryption": enc.model_copy(update={"ciphertext": ct.hex()})})


def unlock(kf: Keyfile, password: str | None, source: str = "keyfile") -> Keypair:
    """The keypair stored in `kf`; `password` is needed (and checked) only when it is encrypted."""
    if kf.secret is not None:
        return keypair_from(kf, kf.secret, source)
    enc = kf.encryption
    if password is None:
        raise DecryptionError(f"{source}: the key is encrypted and no password was given")
    try:
        plain = ChaCha20Poly1305(_cipher_key(password, enc.kdf)).decrypt(
            bytes.fromhex(enc.nonce), bytes.fromhex(enc.ciphertext), _header_bytes(kf))
    except InvalidTag:
        raise DecryptionError(f"{source}: wrong password, or the keyfile was modified",
                              hint="check the password (or OPENSUBNET_WALLET_PASSWORD / --password-file)") from None
    try:
        secret = Secret.model_validate(pydantic_core.from_json(plain))
    except (ValueError, ValidationError):
        raise KeyfileFormatError(f"{source}: decrypted secret is malformed") from None
    return keypair_from(kf, secret, source)
