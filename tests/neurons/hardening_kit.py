"""Shared pieces of the hardening tests (issue 14): a real axon on loopback, raw sends, RSS."""
from __future__ import annotations

import contextlib
import dataclasses
import os

import grpc
import torch
from substrateinterface import Keypair

from neurons.axon import Axon, CallerInfo
from neurons.config.schema import AxonSection
from protocol import envelope, service, wire
from protocol.envelope import encode_body

MINER = Keypair.create_from_uri("//HardeningMiner")
VALI = Keypair.create_from_uri("//HardeningValidator")
TABLE = {VALI.ss58_address: CallerInfo(0, 1000.0, True)}
X = {"x": torch.arange(16, dtype=torch.float32)}


def echo(call):
    return dict(call.tensors)


@contextlib.asynccontextmanager
async def serving(handler=echo, table=TABLE, synapse="echo", blacklist=None, priority=None, verify=None,
                  caller_info=None, **cfg):
    axon = Axon(MINER, caller_info=caller_info or table.get, host="127.0.0.1", config=AxonSection(**cfg))
    axon.attach(synapse, handler, blacklist=blacklist, priority=priority, verify=verify)
    await axon.start()
    try:
        yield axon
    finally:
        await axon.stop(0)


async def send_raw(axon: Axon, data: bytes, timeout: float = 5.0) -> envelope.Response:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}", options=service.channel_options(64 << 20)) as ch:
        raw = await service.unary_call(ch)(data, timeout=timeout)
    return envelope.parse_response(raw, max_bytes=64 << 20)


def signed(kp=VALI, *, synapse="echo", body=None, **kw) -> bytes:
    return envelope.build_request(kp, synapse=synapse, receiver=MINER.ss58_address,
                                  body=encode_body(X) if body is None else body, **kw)


def with_header(data: bytes, **changes) -> bytes:
    """The same request with header fields changed (the signature no longer matches)."""
    req = envelope.parse_request(data, max_bytes=1 << 30)
    hb = dataclasses.replace(req.header, **changes).to_bytes()
    body = bytes(req.body)
    return wire.len_prefix(1, len(hb)) + hb + wire.len_prefix(2, len(body)) + body


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
