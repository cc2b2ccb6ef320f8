"""The fast signing path: signatures interchangeable with substrateinterface.Keypair, header bytes
identical to Header.to_bytes(), and a precomputed body hash that can only get a request refused."""
import dataclasses
import blake3

import numpy as np
import pytest
from substrateinterface import Keypair

from protocol import envelope, wire
from protocol.codes import ReturnCode
from protocol.envelope import (
    body_parts, body_hash, build_request, build_response, encode_body, parse_request, parse_response,
    verify_request, verify_response,
)
from protocol.replay import ReplayGuard

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
LIMIT = 1 << 24
BODY = encode_body({"x": np.arange(64, dtype=np.float32)}, {"task": "echo"})


def _parsed(**kw):
    kw.setdefault("body", BODY)
    return parse_request(build_request(ALICE, synapse="forward", receiver=BOB.ss58_address, **kw), max_bytes=LIMIT)


def _verify(req):
    return verify_request(req, receiver=BOB.ss58_address, guard=ReplayGuard())


def test_request_signature_verifies_with_keypair():
    req = _parsed()
    preimage = envelope._preimage(envelope._REQUEST_TAG, req.header)
    assert Keypair(ss58_address=ALICE.ss58_address).verify(preimage, req.header.signature)
    assert not Keypair(ss58_address=BOB.ss58_address).verify(preimage, req.header.signature)


def test_keypair_signatures_verify_on_the_fast_path():
    """A header signed by Keypair.sign itself (the slow path) is accepted; a wrapped one too, as Keypair does."""
    req = _parsed()
    preimage = envelope._preimage(envelope._REQUEST_TAG, req.header)
    for signed in (preimage, b"<Bytes>" + preimage + b"</Bytes>"):
        header = dataclasses.replace(req.header, signature=ALICE.sign(signed))
        assert _verify(envelope.Request(header, req.body)) == ReturnCode.SUCCESS
    forged = dataclasses.replace(req.header, signature=BOB.sign(preimage))
    assert _verify(envelope.Request(forged, req.body)) == ReturnCode.UNAUTHENTICATED


def test_response_signature_verifies_with_keypair():
    req = _parsed()
    resp = parse_response(build_response(BOB, request=req, code=ReturnCode.SUCCESS, body=BODY, message="hi"),
                          max_bytes=LIMIT)
    extra = envelope._response_extra(resp.code, resp.message)
    assert Keypair(ss58_address=BOB.ss58_address).verify(
        envelope._preimage(envelope._RESPONSE_TAG, resp.header, extra), resp.header.signature)
    assert verify_response(resp, request_uuid=req.header.uuid, expected_signer=BOB.ss58_address) == ReturnCode.SUCCESS


def test_one_pass_header_bytes_equal_header_to_bytes():
    data = build_request(ALICE, synapse="forward", receiver=BOB.ss58_address, body=BODY, nonce=7, now_ns=123,
                         uuid="u-1")
    (f, _, sent), *_ = wire.fields(memoryview(data))
    assert f == 1 and bytes(sent) == parse_request(data, max_bytes=LIMIT).header.to_bytes()


def test_precomputed_body_hash_matches_and_verifies():
    parts = body_parts({"x": np.arange(64, dtype=np.float32)}, {"task": "echo"})
    digest = body_hash(BODY)
    assert digest == body_hash(parts) == blake3.blake3(BODY).digest()
    for body in (BODY, parts):
        req = _parsed(body=body, body_hash=digest)
        assert req.header.body_hash == digest
        assert _verify(req) == ReturnCode.SUCCESS


def test_wrong_precomputed_body_hash_is_refused_not_trusted():
    req = _parsed(body_hash=blake3.blake3(b"something else").digest())
    assert _verify(req) == ReturnCode.UNAUTHENTICATED
    for bad in (b"short", "0" * 32, bytearray(32)):
        with pytest.raises(ValueError, match="body_hash"):
            build_request(ALICE, synapse="forward", receiver=BOB.ss58_address, body=BODY, body_hash=bad)


def test_invalid_caller_address_is_unauthenticated():
    req = _parsed()
    for caller in ("not-an-address", "", BOB.ss58_address):
        header = dataclasses.replace(req.header, caller=caller)
        assert _verify(envelope.Request(header, req.body)) == ReturnCode.UNAUTHENTICATED
