"""A malicious miner's axon: a real gRPC server that answers a validator's frames with attacks on
the validator's side (its dendrite and answer checks). Used by tests/neurons/test_hardening_hostile.py
and bench/hostile.py.

    async with hostile("bomb", MINER_KEY) as port: ...   # Stream (and Call) on 127.0.0.1:port

ATTACKS maps each attack to the ReturnCode the validator must record for it:

  wrong_shape   signed SUCCESS whose query_emb is [batch, 100] instead of [batch, 384]
  huge_declared signed SUCCESS whose tensor declares 2**40 float32 elements (and carries 16 bytes)
  bomb          signed SUCCESS whose zstd tensor inflates to BOMB_BYTES (within the validator's limit)
  over_bomb     signed SUCCESS whose zstd tensor declares 4 GiB (over the validator's limit)
  slow_drip     answers nothing; the stream stays open (a miner that drips or stalls)
  endless       floods the stream with 64 KiB frames for ids never asked, and never answers
  mismatched    signs an answer for another request uuid
  wrong_id      a correct answer, under a frame id never sent (the request itself is never answered)
  impostor      a correct answer signed by another hotkey than the registered one
  garbage       a frame that is not a frame
  oversize      one answer frame larger than the validator accepts
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os

import grpc
import torch
import zstandard
from substrateinterface import Keypair

from protocol import envelope, service, stream, tensor, wire
from protocol.codes import ReturnCode

DIM = 384
BOMB_BYTES = 6 << 20
OVERSIZE_BYTES = 80 << 20   # the "oversize" answer: over the dendrite's 64 MiB default
IMPOSTOR = Keypair.create_from_uri("//HostileImpostor")

ATTACKS = {
    "wrong_shape": ReturnCode.INVALID_RESPONSE,
    "huge_declared": ReturnCode.INVALID_RESPONSE,
    "bomb": ReturnCode.INVALID_RESPONSE,
    "over_bomb": ReturnCode.INVALID_RESPONSE,
    "slow_drip": ReturnCode.TIMEOUT,
    "endless": ReturnCode.INVALID_RESPONSE,
    "mismatched": ReturnCode.INVALID_RESPONSE,
    "wrong_id": ReturnCode.INVALID_RESPONSE,
    "impostor": ReturnCode.INVALID_RESPONSE,
    "garbage": ReturnCode.INVALID_RESPONSE,
    "oversize": ReturnCode.INVALID_RESPONSE,
}


def _emb(batch: int, width: int = DIM) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(batch, width), dim=-1)


def _declared(shape: list[int], payload: bytes, compression: int = 0) -> bytes:
    """A serialized Tensor (float32) with whatever shape it claims."""
    dims = b"".join(wire.varint(d) for d in shape)
    out = wire.varint_field(1, int(tensor.DType.F32)) + wire.bytes_field(2, dims)
    if compression:
        out += wire.varint_field(3, compression)
    return out + wire.bytes_field(5, payload)


def _batch(req: envelope.Request) -> int:
    try:
        return envelope.decode_body(req.body).tensors["query_ids"].shape[0]
    except Exception:  # noqa: BLE001 - not the text-embedding synapse: any batch will do
        return 1


@functools.lru_cache(maxsize=None)
def _oversize_body() -> bytes:
    return envelope.encode_body({"query_emb": torch.zeros(OVERSIZE_BYTES // 4)})


def answer(attack: str, kp: Keypair, req: envelope.Request) -> bytes:
    """The response bytes this attack sends for one request."""
    b = _batch(req)
    good = {"query_emb": _emb(b), "code_emb": _emb(b)}
    if attack == "wrong_shape":
        body = envelope.encode_body({"query_emb": _emb(b, 100), "code_emb": _emb(b)})
    elif attack == "huge_declared":
        body = envelope.encode_body({"query_emb": _declared([1 << 40], b"\0" * 16), "code_emb": _emb(b)})
    elif attack == "bomb":
        body = envelope.encode_body({"query_emb": torch.zeros(BOMB_BYTES // 4)}, compression="zstd")
    elif attack == "over_bomb":
        small = zstandard.ZstdCompressor().compress(b"\0" * (1 << 20))
        body = envelope.encode_body({"query_emb": _declared([1 << 30], small, int(tensor.Compression.ZSTD))})
    elif attack == "mismatched":
        other = dataclasses.replace(req.header, uuid="0" * 32)
        return envelope.build_response(kp, request=other, code=ReturnCode.SUCCESS, body=envelope.encode_body(good))
    elif attack == "impostor":
        return envelope.build_response(IMPOSTOR, request=req, code=ReturnCode.SUCCESS, body=envelope.encode_body(good))
    elif attack == "oversize":
        body = _oversize_body()
    else:
        body = envelope.encode_body(good)
    return envelope.build_response(kp, request=req, code=ReturnCode.SUCCESS, body=body)


def _frames(attack: str, kp: Keypair):
    async def serve(frames, context):
        async for data in frames:
            fid, _, payload = stream.parse_frame(data)
            req = envelope.parse_request(payload, max_bytes=1 << 30)
            if attack == "slow_drip":
                await asyncio.sleep(3600)
            elif attack == "endless":
                junk = os.urandom(64 << 10)
                n = 0
                while True:
                    n += 1
                    yield stream.encode_frame((1 << 40) + n, junk)
            elif attack == "garbage":
                yield b"\xff" * 64
            elif attack == "wrong_id":
                yield stream.encode_frame(fid + 1000, answer(attack, kp, req))
            else:
                yield stream.encode_frame(fid, answer(attack, kp, req))
    return serve


def _unary(attack: str, kp: Keypair):
    async def call(data, context):
        req = envelope.parse_request(data, max_bytes=1 << 30)
        if attack in ("slow_drip", "endless", "wrong_id"):
            await asyncio.sleep(3600)
        if attack == "garbage":
            return b"\xff" * 64
        return answer(attack, kp, req)
    return call


@contextlib.asynccontextmanager
async def hostile(attack: str, kp: Keypair, host: str = "127.0.0.1"):
    """Serve `attack` as `kp`'s axon; yields the port."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; one of {sorted(ATTACKS)}")
    if attack == "oversize":
        _oversize_body()  # built before the clock starts
    server = grpc.aio.server(options=service.channel_options(256 << 20))
    server.add_generic_rpc_handlers([service.axon_handler(_unary(attack, kp), stream=_frames(attack, kp))])
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(0)


async def _main(attack: str) -> None:
    async with hostile(attack, _miner_key()) as port:
        print(port, flush=True)
        await asyncio.Event().wait()


def _miner_key() -> Keypair:
    return Keypair.create_from_uri("//BenchHostileMiner")


if __name__ == "__main__":  # python tests/reliability/hostile_miner.py ATTACK: serve it, print the port
    import sys
    try:
        asyncio.run(_main(sys.argv[1]))
    except KeyboardInterrupt:
        pass
