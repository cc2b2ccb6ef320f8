"""Random and mutated bytes reach the parsers: only typed errors come out, never anything else."""
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from substrateinterface import Keypair

from protocol.codes import EnvelopeError, ReturnCode
from protocol.envelope import (
    build_request, build_response, decode_body, encode_body, parse_request, parse_response, verify_request,
)
from protocol.replay import ReplayGuard
from protocol.tensor import TensorDecodeError, decode, decode_numpy, encode

ALICE, BOB = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob")
LIMIT = 1 << 20

TENSORS = [
    encode(np.arange(6, dtype=np.float32).reshape(2, 3)),
    encode(torch.zeros(64, dtype=torch.bfloat16), compression="zstd"),
    encode(np.zeros(64, np.int16), compression="lz4"),
    encode(np.array([True, False])),
    encode(np.float64(1.0)),
]
BODIES = [encode_body({"x": np.arange(3, dtype=np.int64), "y": torch.ones(2, 2)}, {"k": "v"}),
          encode_body({"z": torch.zeros(100)}, compression="zstd")]
REQUESTS = [build_request(ALICE, synapse="forward", receiver=BOB.ss58_address, body=b) for b in BODIES]
RESPONSES = [build_response(BOB, request=parse_request(r, max_bytes=LIMIT), code=ReturnCode.SUCCESS, body=BODIES[0])
             for r in REQUESTS[:1]] + [build_response(None, request=None, code=ReturnCode.TIMEOUT, message="late")]


@st.composite
def mutated(draw, samples):
    data = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x12]))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        else:
            del data[i : i + draw(st.integers(1, 8))]
    return bytes(data)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tensor_parsers(data):
    for fn in (decode, decode_numpy):
        try:
            fn(data, max_bytes=LIMIT)
        except TensorDecodeError:
            pass


def _envelope_parsers(data):
    for fn in (decode_body, parse_response):
        try:
            fn(data, max_bytes=LIMIT)
        except EnvelopeError:
            pass
    try:
        req = parse_request(data, max_bytes=LIMIT)
    except EnvelopeError:
        return
    code = verify_request(req, receiver=BOB.ss58_address, guard=ReplayGuard())
    assert isinstance(code, ReturnCode)
    if code == ReturnCode.SUCCESS:  # only an equivalent encoding of an original may pass
        orig = [parse_request(r, max_bytes=LIMIT) for r in REQUESTS]
        assert any(req.header == o.header and bytes(req.body) == bytes(o.body) for o in orig)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _tensor_parsers(data)
    _envelope_parsers(data)


@FUZZ
@given(mutated(TENSORS))
def test_mutated_tensors(data):
    _tensor_parsers(data)


@FUZZ
@given(mutated(BODIES + REQUESTS + RESPONSES))
def test_mutated_envelopes(data):
    _envelope_parsers(data)
