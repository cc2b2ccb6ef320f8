"""Keyfile parser under hostile bytes: tampering is always detected, garbage only ever raises KeyfileError."""
from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings, strategies as st
from substrateinterface import Keypair

from neurons.wallet import keyfile
from neurons.wallet.errors import DecryptionError, KeyfileError, KeyfileFormatError

FAST = keyfile.KdfCost(log2_n=10, r=8, p=1)
KP = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
ENCRYPTED = keyfile.dump(keyfile.build(KP, password="pw", kdf=FAST))
PLAIN = keyfile.dump(keyfile.build(KP, password=None))


def canonical(obj: dict) -> bytes:
    return json.dumps(obj, indent=2).encode() + b"\n"  # the same bytes keyfile.dump writes


def load(raw: bytes, password: str | None = "pw") -> Keypair:
    return keyfile.unlock(keyfile.parse(raw), password)


def test_roundtrip():
    assert load(ENCRYPTED).private_key == KP.private_key
    assert load(PLAIN, None).private_key == KP.private_key
    assert load(PLAIN, None).mnemonic == KP.mnemonic


@pytest.mark.parametrize("raw", [ENCRYPTED, PLAIN], ids=["encrypted", "plaintext"])
@pytest.mark.parametrize("mask", [0x01, 0x20, 0x80])
def test_every_modified_byte_is_detected(raw, mask):
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= mask
        with pytest.raises(KeyfileError):
            load(bytes(bad))


def test_truncation_and_appending_are_detected():
    for raw in (ENCRYPTED, PLAIN):
        for cut in range(0, len(raw), 7):
            with pytest.raises(KeyfileError):
                load(raw[:cut])
        with pytest.raises(KeyfileError):
            load(raw + b" ")


def test_header_fields_are_authenticated():
    """A re-serialised (canonical) file with a changed header still fails: the header is the AEAD's AAD."""
    other = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    obj = json.loads(ENCRYPTED)
    obj["ss58"], obj["public_key"] = other.ss58_address, other.public_key.hex()
    with pytest.raises(DecryptionError):
        load(canonical(obj))
    obj = json.loads(ENCRYPTED)
    obj["encryption"]["kdf"]["log2_n"] = 11
    with pytest.raises(DecryptionError):
        load(canonical(obj))


def test_swapped_secret_in_plaintext_file_is_detected():
    other = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    obj = json.loads(PLAIN)
    obj["secret"]["private_key"] = other.private_key.hex()
    with pytest.raises(KeyfileFormatError, match="does not match"):
        keyfile.parse(canonical(obj))


def test_plaintext_secret_without_mnemonic_is_refused():
    """Regression (found by tests/fuzz): with "mnemonic": null, a changed second half of the private key
    (the sr25519 nonce seed, which the public key does not depend on) loaded as a different secret."""
    obj = json.loads(PLAIN)
    obj["secret"]["mnemonic"] = None
    with pytest.raises(KeyfileFormatError, match="without its mnemonic"):
        keyfile.parse(canonical(obj))
    obj["secret"]["private_key"] = obj["secret"]["private_key"][:64] + "00" * 32
    with pytest.raises(KeyfileFormatError):
        keyfile.parse(canonical(obj))
    bare = Keypair.create_from_private_key(KP.private_key, ss58_format=keyfile.SS58_FORMAT)
    with pytest.raises(ValueError, match="only be stored encrypted"):
        keyfile.build(bare, password=None)
    assert load(keyfile.dump(keyfile.build(bare, password="pw", kdf=FAST))).private_key == KP.private_key


def test_version_and_limits_have_clear_errors():
    obj = json.loads(PLAIN)
    obj["version"] = 2
    with pytest.raises(KeyfileFormatError, match="unsupported keyfile version 2"):
        keyfile.parse(json.dumps(obj).encode())
    with pytest.raises(KeyfileFormatError, match="too large"):
        keyfile.parse(b" " * (keyfile.MAX_KEYFILE_BYTES + 1))
    with pytest.raises(KeyfileFormatError):
        keyfile.parse(b"[" * 10_000)


def test_expensive_kdf_parameters_are_refused_before_deriving():
    obj = json.loads(ENCRYPTED)
    obj["encryption"]["kdf"]["log2_n"] = 30  # 2**30 * 8 * 128 bytes: would ask for 1 TiB
    t = time.monotonic()
    with pytest.raises(KeyfileFormatError, match="log2_n"):
        keyfile.parse(canonical(obj))
    assert time.monotonic() - t < 1.0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_keyfile_errors(raw):
    with pytest.raises(KeyfileError):
        load(raw)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                           max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["format", "version", "crypto_type", "ss58", "public_key", "secret",
                                        "encryption", "kdf", "extra"]), json_values, max_size=8))
def test_structured_garbage_only_raises_keyfile_errors(obj):
    obj.setdefault("format", keyfile.FORMAT)
    with pytest.raises(KeyfileError):
        load(json.dumps(obj, indent=2).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([ENCRYPTED, PLAIN]), st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 255)),
                                                     min_size=1, max_size=4), st.booleans())
def test_mutated_keyfiles_never_load_a_different_key(raw, edits, insert):
    bad = bytearray(raw)
    for pos, byte in edits:
        pos %= len(bad)
        if insert:
            bad.insert(pos, byte)
        else:
            bad[pos] = byte
    try:
        kp = load(bytes(bad))
    except KeyfileError:
        return
    assert bytes(bad) == raw and kp.private_key == KP.private_key  # only an unchanged file loads
