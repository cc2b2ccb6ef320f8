"""Real gRPC over loopback with the raw-bytes service helpers: the signed bytes are the sent bytes."""
from concurrent import futures

import grpc
import pytest
import torch
from substrateinterface import Keypair

from protocol import service
from protocol.codes import EnvelopeError, ReturnCode
from protocol.envelope import (
    build_request, build_response, decode_body, encode_body, parse_request, parse_response, verify_request,
    verify_response,
)
from protocol.replay import ReplayGuard

ALICE, BOB = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob")
LIMIT = 1 << 24


@pytest.fixture()
def server():
    received = []
    guard = ReplayGuard()

    def handle(data: bytes, context) -> bytes:
        received.append(data)
        try:
            req = parse_request(data, max_bytes=LIMIT)
        except EnvelopeError as e:
            return build_response(BOB, request=None, code=e.code, message=str(e))
        code = verify_request(req, receiver=BOB.ss58_address, guard=guard)
        if code != ReturnCode.SUCCESS:
            return build_response(BOB, request=req, code=code)
        x = decode_body(req.body, max_bytes=LIMIT).tensors["x"]
        return build_response(BOB, request=req, code=code, body=encode_body({"y": x * 2}))

    srv = grpc.server(futures.ThreadPoolExecutor(2), options=service.channel_options(LIMIT))
    srv.add_generic_rpc_handlers([service.axon_handler(handle)])
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=service.channel_options(LIMIT))
    yield service.unary_call(channel), received
    channel.close()
    srv.stop(0)


def test_round_trip_over_grpc(server):
    call, received = server
    x = torch.arange(1 << 16, dtype=torch.float32)
    data = build_request(ALICE, synapse="forward", receiver=BOB.ss58_address, body=encode_body({"x": x}))
    resp = parse_response(call(data, timeout=10), max_bytes=LIMIT)
    assert received == [data]  # exactly the signed bytes arrived
    uuid = parse_request(data, max_bytes=LIMIT).header.uuid
    assert verify_response(resp, request_uuid=uuid, expected_signer=BOB.ss58_address) == ReturnCode.SUCCESS
    assert resp.code == ReturnCode.SUCCESS and torch.equal(decode_body(resp.body).tensors["y"], x * 2)

    replay = parse_response(call(data, timeout=10), max_bytes=LIMIT)
    assert replay.code == ReturnCode.REPLAYED
    garbage = parse_response(call(b"\xff\xff", timeout=10), max_bytes=LIMIT)
    assert garbage.code == ReturnCode.INVALID_REQUEST and garbage.header is None
