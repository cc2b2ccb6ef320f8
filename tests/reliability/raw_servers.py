"""Transport-level faulty "miners": servers that break the connection rather than the answer.

    python tests/reliability/raw_servers.py --chain dev:PATH --netuid N FAULT=NAME [FAULT=NAME ...]

Each listens on 127.0.0.2 and is announced on chain as NAME's axon (NAME's dev hotkey signs the
serve_axon extrinsic, so the validator really routes to it):

  drop       accepts the TCP connection and resets it at once
  midstream  speaks HTTP/2 (SETTINGS), reads the start of the call (headers, part of the body), then resets
  blackhole  accepts and reads everything, never answers
  garbage    a real gRPC server answering every call (Call, and each frame on Stream) with random bytes
  abort      a real gRPC server aborting every call and stream (status INTERNAL)
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import struct
import sys

import grpc

from chain import connect
from neurons.localsubnet.runner import AXON_IP
from neurons.wallet import DevWallet
from protocol import service

SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"       # empty SETTINGS frame (HTTP/2, RFC 9113 6.5)
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer's kernel would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def _drop(reader, writer):
    _reset(writer)


async def _midstream(reader, writer):
    writer.write(SETTINGS + SETTINGS_ACK)  # the HTTP/2 connection is up: the client commits the call
    got = 0
    while got < 4096:  # the client's preface + SETTINGS + HEADERS + the first body bytes
        chunk = await reader.read(65536)
        if not chunk:
            break
        got += len(chunk)
    _reset(writer)


async def _blackhole(reader, writer):
    while await reader.read(65536):
        pass
    writer.close()


async def _grpc_server(handle, frames) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([service.axon_handler(handle, stream=frames)])
    port = server.add_insecure_port(f"{AXON_IP}:0")
    await server.start()
    return server, port


async def _garbage(data, context):
    return os.urandom(512)


async def _garbage_frames(frames, context):
    async for _ in frames:
        yield os.urandom(512)  # not even a frame


async def _abort(data, context):
    await context.abort(grpc.StatusCode.INTERNAL, "FakeMiner: aborting the call")


async def _abort_frames(frames, context):
    async for _ in frames:
        await context.abort(grpc.StatusCode.INTERNAL, "FakeMiner: aborting the stream")
    yield b""  # (an async generator, as the Stream handler must be)


async def main(args) -> None:
    chain = connect(args.chain)
    keep = []
    for item in args.faults:
        fault, _, name = item.partition("=")
        if fault in ("drop", "midstream", "blackhole"):
            server = await asyncio.start_server(globals()[f"_{fault}"], AXON_IP, 0)
            port = server.sockets[0].getsockname()[1]
        elif fault in ("garbage", "abort"):
            server, port = await _grpc_server(globals()[f"_{fault}"], globals()[f"_{fault}_frames"])
        else:
            raise SystemExit(f"unknown fault {fault!r}")
        keep.append(server)
        chain.serve_axon(args.netuid, DevWallet(f"//opensubnet/{name}").hotkey(), AXON_IP, port)
        logging.info("fault %s as %s on %s:%d", fault, name, AXON_IP, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    p = argparse.ArgumentParser()
    p.add_argument("--chain", required=True)
    p.add_argument("--netuid", type=int, required=True)
    p.add_argument("faults", nargs="+", help="FAULT=NAME")
    asyncio.run(main(p.parse_args()))
