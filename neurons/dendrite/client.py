"""The dendrite: a validator's async fan-out client.

    async with Dendrite(keypair) as d:
        results = await d.query(endpoints, "echo", {"x": x}, timeout=2.0, first_k=8)

The body is encoded and hashed once per query and shared by every miner; each request gets
its own signed header (receiver, nonce) and travels on the one long-lived stream kept per miner
(link.py). All calls run on the event loop (no thread per call) under one global concurrency
limit; every answer's signature is checked against the miner's hotkey.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any, Iterable, Mapping

import grpc

from protocol import envelope
from protocol.codes import EnvelopeError, ReturnCode

from .channels import ChannelPool
from .link import LinkError
from .result import Endpoint, Result

_STATUS_CODES = {
    grpc.StatusCode.DEADLINE_EXCEEDED: ReturnCode.TIMEOUT,
    grpc.StatusCode.UNAVAILABLE: ReturnCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ReturnCode.PAYLOAD_TOO_LARGE,  # our request exceeded its limit
    grpc.StatusCode.UNIMPLEMENTED: ReturnCode.NOT_FOUND,
}


def _status_code(e: grpc.aio.AioRpcError) -> ReturnCode:
    """Transport failures as ReturnCodes; an answer over our own size limit is the miner's fault."""
    if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "CLIENT:" in (e.details() or ""):
        return ReturnCode.INVALID_RESPONSE
    return _STATUS_CODES.get(e.code(), ReturnCode.UNAVAILABLE)

# Refusals an axon sends before it can read the header it would sign with. Believing them
# unsigned is safe: they are failures, and an on-path attacker can fail a call anyway.
_UNSIGNED_OK = frozenset({ReturnCode.VERSION_MISMATCH, ReturnCode.INVALID_REQUEST, ReturnCode.PAYLOAD_TOO_LARGE})


class Dendrite:
    def __init__(self, keypair, *, max_concurrency: int = 512, max_channels: int = 1024,
                 max_response_bytes: int = 64 << 20, root_certificates: bytes | None = None,
                 compression: Any = None):
        self.keypair = keypair
        self.hotkey: str = keypair.ss58_address
        self.max_response_bytes = max_response_bytes
        self.compression = compression
        self.channels = ChannelPool(status_code=_status_code, max_channels=max_channels,
                                    max_receive_bytes=max_response_bytes + (64 << 10), root_certificates=root_certificates)
        self._limit = asyncio.Semaphore(max_concurrency)

    async def query(self, endpoints: Iterable[Endpoint], synapse: str,
                    body: bytes | Mapping[str, Any], *, timeout: float,
                    fields: Mapping[str, str] | None = None, first_k: int | None = None) -> list[Result]:
        """One result per endpoint, in order. With first_k, return as soon as k succeeded; calls
        still running then (or at the deadline) are cancelled and reported as TIMEOUT."""
        endpoints = list(endpoints)
        if first_k is not None and first_k < 1:
            raise ValueError("first_k must be >= 1 (or None to wait for every answer)")
        if isinstance(body, (bytes, bytearray, memoryview)):
            if fields:
                raise ValueError("pass fields together with tensors, not with an encoded body")
            data = bytes(body)
        else:
            data = envelope.body_parts(body, fields, compression=self.compression)  # views: copied once per miner, into its frame
        digest = envelope.body_hash(data)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        tasks = [loop.create_task(self._call(ep, synapse, data, digest, deadline)) for ep in endpoints]
        if not tasks:
            return []
        return await self._collect(endpoints, tasks, len(tasks) if first_k is None else min(first_k, len(tasks)),
                                   deadline)

    async def _collect(self, endpoints: list[Endpoint], tasks: list[asyncio.Task], k: int,
                       deadline: float) -> list[Result]:
        """Wait until k calls succeeded, every call ended, or the deadline passed (one timer for
        the whole query); calls still running are cancelled and reported as TIMEOUT."""
        loop = asyncio.get_running_loop()
        started, pending, ok = time.perf_counter(), set(tasks), 0
        when = asyncio.ALL_COMPLETED if k == len(tasks) else asyncio.FIRST_COMPLETED
        try:
            while pending and ok < k:
                done, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()), return_when=when)
                if not done:
                    break
                ok += sum(t.result().ok for t in done)
        finally:
            for t in pending:
                t.cancel()
        if pending:
            await asyncio.wait(pending)
        late = time.perf_counter() - started
        why = f"cancelled: {k} of {len(tasks)} answers arrived first" if ok >= k else "no answer before the deadline"
        return [t.result() if not t.cancelled() else Result(ep, ReturnCode.TIMEOUT, late, why)
                for ep, t in zip(endpoints, tasks)]

    async def _call(self, ep: Endpoint, synapse: str, body: bytes | list, digest: bytes, deadline: float) -> Result:
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()

        def result(code: ReturnCode, message: str = "", **kw) -> Result:
            return Result(ep, code, time.perf_counter() - t0, message, **kw)

        async with self._limit:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return result(ReturnCode.TIMEOUT, "deadline passed before the request was sent")
            request_uuid = secrets.token_hex(16)
            parts, n = envelope.request_parts(self.keypair, synapse=synapse, receiver=ep.hotkey, body=body,
                                              uuid=request_uuid, body_hash=digest)
            try:  # the query's one timer cancels this call at the deadline (_collect)
                raw = await self.channels.send(ep.address, parts, n, remaining)
            except LinkError as e:
                if e.code == ReturnCode.UNAVAILABLE:
                    self.channels.discard(ep.address)
                return result(e.code, e.message)
            except (grpc.RpcError, OSError, ValueError) as e:  # e.g. an unparseable address from the chain
                return result(ReturnCode.UNAVAILABLE, f"{type(e).__name__}: {e}")
        try:
            resp = envelope.parse_response(raw, max_bytes=self.max_response_bytes)
        except EnvelopeError as e:  # a miner on another protocol version says so (typed), else it is invalid
            code = e.code if e.code == ReturnCode.VERSION_MISMATCH else ReturnCode.INVALID_RESPONSE
            return result(code, f"unparseable response: {e}")
        if envelope.verify_response(resp, request_uuid=request_uuid, expected_signer=ep.hotkey) != ReturnCode.SUCCESS:
            if resp.header is None and resp.code in _UNSIGNED_OK:
                return result(resp.code, f"(unsigned) {resp.message}")
            return result(ReturnCode.INVALID_RESPONSE, f"response not signed by {ep.hotkey} for this request "
                                                       f"(claimed {resp.code.name})")
        if resp.code != ReturnCode.SUCCESS:
            return result(ReturnCode(resp.code), resp.message)
        try:
            decoded = envelope.decode_body(resp.body, max_bytes=self.max_response_bytes)
            tensors = decoded.tensors
        except (EnvelopeError, ValueError, TypeError) as e:
            return result(ReturnCode.INVALID_RESPONSE, f"bad response body: {e}")
        return result(ReturnCode.SUCCESS, tensors=tensors, fields=decoded.fields)

    async def close(self) -> None:
        await self.channels.close()

    async def __aenter__(self) -> "Dendrite":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
