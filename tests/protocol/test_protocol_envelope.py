"""Signed envelopes: every verification failure maps to its ReturnCode and none fails open."""
import dataclasses
import time

import numpy as np
import pytest
import torch
from substrateinterface import Keypair

from protocol import wire
from protocol.codes import EnvelopeError, ReturnCode
from protocol.envelope import (
    PROTOCOL_VERSION, Header, Request, body_parts, build_request, build_response, decode_body, encode_body,
    parse_request, parse_response, verify_request, verify_response,
)
from protocol.replay import ReplayGuard

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
EVE = Keypair.create_from_uri("//Eve")
LIMIT = 1 << 24


def _request(**kw):
    body = kw.pop("body", encode_body({"x": np.arange(4, dtype=np.float32)}, {"task": "echo"}))
    kw.setdefault("synapse", "forward")
    kw.setdefault("receiver", BOB.ss58_address)
    return build_request(kw.pop("keypair", ALICE), body=body, **kw)


def _verify(data, guard=None, receiver=BOB.ss58_address, **kw):
    return verify_request(parse_request(data, max_bytes=LIMIT), receiver=receiver, guard=ReplayGuard() if guard is None else guard, **kw)


def _with_header(req: Request, **changes) -> Request:
    return Request(dataclasses.replace(req.header, **changes), req.body)


def test_valid_request_verifies_and_body_decodes():
    data = _request()
    req = parse_request(data, max_bytes=LIMIT)
    h = req.header
    assert (h.version, h.synapse, h.caller, h.receiver) == (PROTOCOL_VERSION, "forward", ALICE.ss58_address, BOB.ss58_address)
    assert abs(h.timestamp_ns - time.time_ns()) < 60e9 and len(h.signature) == 64 and len(h.uuid) == 32
    assert verify_request(req, receiver=BOB.ss58_address, guard=ReplayGuard()) == ReturnCode.SUCCESS
    body = decode_body(req.body)
    assert body.tensors["x"].tolist() == [0, 1, 2, 3] and body.fields == {"task": "echo"}
    assert np.shares_memory(body.numpy()["x"], np.frombuffer(data, np.uint8))


def test_replay_rejected_after_first_acceptance():
    guard = ReplayGuard()
    data = _request()
    assert _verify(data, guard) == ReturnCode.SUCCESS
    assert _verify(data, guard) == ReturnCode.REPLAYED
    assert _verify(_request(), guard) == ReturnCode.SUCCESS  # fresh nonce


def test_stale_and_future_timestamps_rejected():
    now = time.time_ns()
    guard = ReplayGuard(window_s=30, skew_s=5)
    assert _verify(_request(now_ns=now - 31 * 10**9), guard, now_ns=now) == ReturnCode.STALE
    assert _verify(_request(now_ns=now + 6 * 10**9), guard, now_ns=now) == ReturnCode.STALE
    assert _verify(_request(now_ns=now + 4 * 10**9), guard, now_ns=now) == ReturnCode.SUCCESS
    assert _verify(_request(now_ns=now - 29 * 10**9), guard, now_ns=now) == ReturnCode.SUCCESS


def test_wrong_receiver():
    assert _verify(_request(), receiver=EVE.ss58_address) == ReturnCode.WRONG_RECEIVER


def test_empty_missing_or_bad_signature_rejected():
    req = parse_request(_request(), max_bytes=LIMIT)
    g = ReplayGuard()
    for changes in ({"signature": b""}, {"signature": b"\0" * 64}, {"signature": req.header.signature[:-1]},
                    {"caller": ""}, {"caller": "not-an-ss58"}, {"caller": EVE.ss58_address},
                    {"body_hash": b""}):
        assert verify_request(_with_header(req, **changes), receiver=BOB.ss58_address, guard=g) == ReturnCode.UNAUTHENTICATED, changes
    assert g.size == 0  # nothing recorded for unauthenticated requests
    assert verify_request(req, receiver=BOB.ss58_address, guard=g) == ReturnCode.SUCCESS


def test_every_signed_field_is_covered():
    req = parse_request(_request(), max_bytes=LIMIT)
    h = req.header
    for changes in ({"synapse": "backward"}, {"nonce": h.nonce ^ 1}, {"uuid": "x" + h.uuid[1:]},
                    {"timestamp_ns": h.timestamp_ns + 1}, {"body_hash": bytes(32)}):
        code = verify_request(_with_header(req, **changes), receiver=BOB.ss58_address, guard=ReplayGuard())
        assert code == ReturnCode.UNAUTHENTICATED, changes
    other = dataclasses.replace(h, receiver=EVE.ss58_address)
    assert verify_request(Request(other, req.body), receiver=EVE.ss58_address, guard=ReplayGuard()) == ReturnCode.UNAUTHENTICATED


def test_tampered_body_rejected():
    data = bytearray(_request())
    data[-1] ^= 0xFF  # last byte of the tensor payload
    assert _verify(bytes(data)) == ReturnCode.UNAUTHENTICATED
    req = parse_request(_request(), max_bytes=LIMIT)
    swapped = Request(req.header, encode_body({"x": np.zeros(4, np.float32)}))
    assert verify_request(swapped, receiver=BOB.ss58_address, guard=ReplayGuard()) == ReturnCode.UNAUTHENTICATED


def test_parse_request_errors_carry_codes():
    data = _request()
    with pytest.raises(EnvelopeError) as e:
        parse_request(data, max_bytes=len(data) - 1)
    assert e.value.code == ReturnCode.PAYLOAD_TOO_LARGE
    unknown = wire.bytes_field(1, parse_request(data, max_bytes=LIMIT).header.to_bytes() + b"\x50\x01")
    for bad in (b"", b"\x12\x00", b"\x0a\x05abc", b"\xff\xff", data + b"\x18\x01", unknown):
        with pytest.raises(EnvelopeError) as e:
            parse_request(bad, max_bytes=LIMIT)
        assert e.value.code == ReturnCode.INVALID_REQUEST, bad
    old = Header(version=PROTOCOL_VERSION + 1, caller=ALICE.ss58_address).to_bytes()
    with pytest.raises(EnvelopeError, match="protocol version") as e:
        parse_request(wire.bytes_field(1, old), max_bytes=LIMIT)
    assert e.value.code == ReturnCode.VERSION_MISMATCH


def test_body_limits():
    body = encode_body({"a": np.zeros(1000, np.float32), "b": np.zeros(1000, np.float32)})
    assert set(decode_body(body, max_bytes=len(body)).tensors) == {"a", "b"}
    with pytest.raises(EnvelopeError) as e:
        decode_body(body, max_bytes=len(body) - 1)
    assert e.value.code == ReturnCode.PAYLOAD_TOO_LARGE
    packed = encode_body({"a": torch.zeros(1 << 20), "b": torch.zeros(1 << 20)}, compression="zstd")
    with pytest.raises(EnvelopeError) as e:  # each tensor fits, the two together do not
        decode_body(packed, max_bytes=(1 << 22) + 100)
    assert e.value.code == ReturnCode.PAYLOAD_TOO_LARGE
    with pytest.raises(EnvelopeError) as e:
        decode_body(encode_body({"a": b"\x08\x63"}))  # pre-encoded tensor with unknown dtype
    assert e.value.code == ReturnCode.INVALID_REQUEST


def test_encode_body_accepts_pre_encoded_tensors_and_bf16():
    from protocol.tensor import encode

    x = torch.randn(3, 2, dtype=torch.bfloat16)
    body = decode_body(encode_body({"pre": encode(x), "raw": x}))
    assert torch.equal(body.tensors["pre"], x) and torch.equal(body.tensors["raw"], x)
    assert body.numpy(bf16_as_float32=True)["raw"].dtype == np.float32


def _response(code=ReturnCode.SUCCESS, keypair=BOB, **kw):
    req = parse_request(_request(), max_bytes=LIMIT)
    body = kw.pop("body", encode_body({"y": torch.ones(2)}))
    return req, build_response(keypair, request=req, code=code, body=body, **kw)


def test_response_verifies_for_its_request_and_signer():
    req, data = _response(message="done")
    resp = parse_response(data, max_bytes=LIMIT)
    assert resp.code == ReturnCode.SUCCESS and resp.message == "done"
    assert resp.header.receiver == ALICE.ss58_address and resp.header.caller == BOB.ss58_address
    assert verify_response(resp, request_uuid=req.header.uuid, expected_signer=BOB.ss58_address) == ReturnCode.SUCCESS
    assert decode_body(resp.body).tensors["y"].tolist() == [1.0, 1.0]


def test_response_verification_failures():
    req, data = _response()
    resp = parse_response(data, max_bytes=LIMIT)
    bad = ReturnCode.INVALID_RESPONSE
    assert verify_response(resp, request_uuid="other", expected_signer=BOB.ss58_address) == bad
    assert verify_response(resp, request_uuid=req.header.uuid, expected_signer=EVE.ss58_address) == bad
    flipped = dataclasses.replace(resp, code=ReturnCode.TIMEOUT)
    assert verify_response(flipped, request_uuid=req.header.uuid, expected_signer=BOB.ss58_address) == bad
    swapped = dataclasses.replace(resp, body=encode_body({"y": torch.zeros(2)}))
    assert verify_response(swapped, request_uuid=req.header.uuid, expected_signer=BOB.ss58_address) == bad
    unsigned = parse_response(build_response(None, request=req, code=ReturnCode.SUCCESS), max_bytes=LIMIT)
    assert unsigned.header is None
    assert verify_response(unsigned, request_uuid=req.header.uuid, expected_signer=BOB.ss58_address) == bad
    forged = dataclasses.replace(resp, header=dataclasses.replace(resp.header, signature=b""))
    assert verify_response(forged, request_uuid=req.header.uuid, expected_signer=BOB.ss58_address) == bad


def test_request_signature_cannot_be_used_as_a_response():
    req = parse_request(_request(keypair=BOB, receiver=ALICE.ss58_address), max_bytes=LIMIT)
    h = req.header
    fake = parse_response(build_response(None, request=None, code=ReturnCode.SUCCESS), max_bytes=LIMIT)
    fake = dataclasses.replace(fake, header=h, body=req.body)
    assert verify_response(fake, request_uuid=h.uuid, expected_signer=BOB.ss58_address) == ReturnCode.INVALID_RESPONSE


def test_parse_response_errors_carry_codes():
    _, data = _response()
    with pytest.raises(EnvelopeError) as e:
        parse_response(data, max_bytes=10)
    assert e.value.code == ReturnCode.PAYLOAD_TOO_LARGE
    for bad in (b"\x08\x63", b"\x12\x02\xff\xfe", b"\x1a\x01"):
        with pytest.raises(EnvelopeError) as e:
            parse_response(bad, max_bytes=LIMIT)
        assert e.value.code == ReturnCode.INVALID_RESPONSE, bad
    long = build_response(None, request=None, code=ReturnCode.SERVER_ERROR, message="é" * 5000)
    assert len(parse_response(long, max_bytes=LIMIT).message.encode()) <= 4096


def test_body_parts_send_the_same_body_with_one_copy():
    x = np.arange(1000, dtype=np.float32)
    parts = body_parts({"x": x}, {"k": "v"})
    assert any(np.shares_memory(np.frombuffer(p, np.uint8), x) for p in parts if isinstance(p, memoryview))
    kw = dict(synapse="s", receiver=BOB.ss58_address, nonce=7, uuid="u", now_ns=time.time_ns())
    a = parse_request(build_request(ALICE, body=parts, **kw), max_bytes=LIMIT)
    b = parse_request(build_request(ALICE, body=encode_body({"x": x}, {"k": "v"}), **kw), max_bytes=LIMIT)
    assert bytes(a.body) == bytes(b.body)
    assert dataclasses.replace(a.header, signature=b"") == dataclasses.replace(b.header, signature=b"")
    assert verify_request(a, receiver=BOB.ss58_address, guard=ReplayGuard()) == ReturnCode.SUCCESS
    resp = parse_response(build_response(BOB, request=a, code=ReturnCode.SUCCESS, body=parts), max_bytes=LIMIT)
    assert bytes(resp.body) == bytes(b.body)
    assert verify_response(resp, request_uuid="u", expected_signer=BOB.ss58_address) == ReturnCode.SUCCESS
