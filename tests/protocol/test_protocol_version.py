"""Protocol v2 (BLAKE3 body hash) refuses v1 peers (SHA-256 body hash) with a typed VERSION_MISMATCH,
both ways, over real gRPC on loopback with real sr25519 keys."""
from __future__ import annotations

import asyncio
import hashlib
import struct

import blake3
import grpc
import numpy as np
import pytest
from substrateinterface import Keypair

from neurons.axon import Axon, CallerInfo
from neurons.config.schema import AxonSection
from neurons.dendrite import Dendrite, Endpoint
from protocol import envelope, service, wire
from protocol.codes import EnvelopeError, ReturnCode

MINER = Keypair.create_from_uri("//VersionTestMiner")
VALI = Keypair.create_from_uri("//VersionTestValidator")
BODY = envelope.encode_body({"x": np.arange(8, dtype=np.float32)})


def v1_header(kp: Keypair, tag: bytes, *, synapse: str, receiver: str, uuid: str, body: bytes, extra=b"") -> bytes:
    """A header exactly as protocol v1 signed it: version 1, sha256 body hash, the v1 domain tag."""
    digest, now = hashlib.sha256(body).digest(), 1_700_000_000_000_000_000
    pre = envelope._preimage_bytes(tag, 1, synapse.encode(), kp.ss58_address.encode(), receiver.encode(), 7,
                                   uuid.encode(), now, digest, extra)
    return envelope.Header(1, synapse, kp.ss58_address, receiver, 7, uuid, now, digest, kp.sign(pre)).to_bytes()


def v1_request(body: bytes = BODY) -> bytes:
    hb = v1_header(VALI, b"opensubnet/request/v1\0", synapse="echo", receiver=MINER.ss58_address, uuid="u1",
                   body=body)
    return wire.bytes_field(1, hb) + wire.bytes_field(2, body)


def test_body_hash_is_blake3_and_signed_into_version_2():
    data = envelope.build_request(VALI, synapse="echo", receiver=MINER.ss58_address, body=BODY)
    h = envelope.parse_request(data, max_bytes=1 << 20).header
    assert h.version == envelope.PROTOCOL_VERSION == 2
    assert h.body_hash == blake3.blake3(BODY).digest() != hashlib.sha256(BODY).digest()


def test_v1_request_is_refused_with_version_mismatch():
    with pytest.raises(EnvelopeError, match="protocol version 1") as e:
        envelope.parse_request(v1_request(), max_bytes=1 << 20)
    assert e.value.code == ReturnCode.VERSION_MISMATCH


def test_v1_response_is_refused_with_version_mismatch():
    hb = v1_header(MINER, b"opensubnet/response/v1\0", synapse="echo", receiver=VALI.ss58_address, uuid="u1",
                   body=BODY, extra=struct.pack("<I", 0) + hashlib.sha256(b"").digest())
    with pytest.raises(EnvelopeError) as e:
        envelope.parse_response(wire.bytes_field(3, hb) + wire.bytes_field(4, BODY), max_bytes=1 << 20)
    assert e.value.code == ReturnCode.VERSION_MISMATCH


def test_axon_answers_a_v1_caller_with_version_mismatch():
    async def main():
        table = {VALI.ss58_address: CallerInfo(0, 10.0, True)}
        calls = []
        axon = Axon(MINER, caller_info=table.get, config=AxonSection())
        axon.attach("echo", lambda call: calls.append(call) or dict(call.tensors))
        await axon.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}") as ch:
                raw = await service.unary_call(ch)(v1_request(), timeout=5)
        finally:
            await axon.stop(0)
        resp = envelope.parse_response(raw, max_bytes=1 << 20)
        assert resp.code == ReturnCode.VERSION_MISMATCH and "upgrade" in resp.message
        assert resp.header is None and calls == []  # unsigned refusal; the handler never ran
    asyncio.run(main())


def test_dendrite_reports_version_mismatch_from_a_v1_miner():
    """A v1 miner signs its answers the v1 way: the v2 dendrite reports VERSION_MISMATCH, not a bad answer."""
    def v1_miner(data, context):
        uuid = envelope.parse_request(data, max_bytes=1 << 20).header.uuid
        hb = v1_header(MINER, b"opensubnet/response/v1\0", synapse="echo", receiver=VALI.ss58_address, uuid=uuid,
                       body=BODY, extra=struct.pack("<I", 0) + hashlib.sha256(b"").digest())
        return wire.bytes_field(3, hb) + wire.bytes_field(4, BODY)

    async def main():
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([service.axon_handler(v1_miner, stream=service.answer_in_order(v1_miner))])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with Dendrite(VALI) as d:
                [r] = await d.query([Endpoint(MINER.ss58_address, "127.0.0.1", port)], "echo",
                                    {"x": np.zeros(4, np.float32)}, timeout=5)
        finally:
            await server.stop(0)
        assert r.code == ReturnCode.VERSION_MISMATCH, r
        assert "protocol version 1" in r.message
    asyncio.run(main())
