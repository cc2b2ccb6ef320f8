"""One long-lived `Stream` call to one axon, carrying many requests at once (protocol/stream.py).

Each request goes out as a frame with a fresh id; a reader task hands every answer frame to the
request waiting for that id. When the stream ends or breaks, every request still waiting fails
with `LinkError` and the link is closed; the pool opens a new one for the next request. A frame
for an id never sent, or more unmatched frames than requests that gave up (late answers), is a
hostile miner (an endless stream): the link is closed with INVALID_RESPONSE, which stops the flood.
"""
from __future__ import annotations

import asyncio
import itertools

import grpc

from protocol import stream, wire
from protocol.codes import ReturnCode


class LinkError(Exception):
    """The transport failed for a request; `code` is what it reports, `status` gRPC's own (if any)."""

    def __init__(self, code: ReturnCode, message: str, status: grpc.StatusCode | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Link:
    def __init__(self, call: grpc.aio.StreamStreamCall, status_code):
        self._call = call
        self._status_code = status_code          # grpc.aio.AioRpcError -> ReturnCode
        self._waiting: dict[int, asyncio.Future] = {}
        self._outbox: asyncio.Queue = asyncio.Queue()
        self._ids = itertools.count(1)
        self._last = 0    # the highest frame id sent
        self._late = 0    # requests that gave up before their answer came: late answers still allowed
        self._failure: LinkError | None = None
        self.closed = False
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read())
        self._writer = loop.create_task(self._write())

    async def request(self, parts: list, length: int, timeout: float) -> memoryview:
        """Send one serialized request (its buffers) and return the payload of its answer frame.

        Cancelling this (the caller's deadline) only drops the answer: the frame, once handed to
        gRPC, still goes out whole, since gRPC ends the stream when a write is cancelled.
        Raises LinkError when the stream fails."""
        if self.closed:
            raise LinkError(ReturnCode.UNAVAILABLE, "stream closed")
        fid = self._last = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[fid] = answer
        timeout_ms = min(stream.MAX_TIMEOUT_MS, max(1, int(timeout * 1000)))
        self._outbox.put_nowait((fid, b"".join(stream.frame_parts(fid, parts, length, timeout_ms))))
        try:
            return await answer
        finally:
            if self._waiting.pop(fid, None) is not None:
                self._late += 1

    async def _write(self) -> None:
        """Send queued frames one at a time (gRPC takes one message at a time per call)."""
        try:
            while True:
                fid, data = await self._outbox.get()
                if fid in self._waiting:  # else its caller gave up before it went out
                    await self._call.write(data)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, asyncio.CancelledError) as e:
            self._failure = self._failure or self._failure_of(e)
            self.close()

    async def _read(self) -> None:
        failure = None
        try:
            async for msg in self._call:
                try:
                    fid, _, payload = stream.parse_frame(msg)
                except wire.WireError as e:
                    failure = LinkError(ReturnCode.INVALID_RESPONSE, f"unparseable answer frame: {e}")
                    break
                answer = self._waiting.pop(fid, None)
                if answer is None:  # a late answer is allowed once per request that gave up; nothing else
                    if fid > self._last or self._late <= 0:
                        failure = LinkError(ReturnCode.INVALID_RESPONSE, f"answer frame for id {fid}, which was "
                                            "never asked or already answered")
                        break
                    self._late -= 1
                elif not answer.done():
                    answer.set_result(payload)
        except (grpc.aio.AioRpcError, asyncio.CancelledError) as e:
            failure = self._failure_of(e)
        finally:
            failure = self._failure or failure or LinkError(ReturnCode.UNAVAILABLE, "the miner closed the stream")
            self.close()
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(failure)
            self._waiting.clear()

    def _failure_of(self, e: Exception) -> LinkError:
        if isinstance(e, grpc.aio.AioRpcError):
            return rpc_failure(e, self._status_code)
        return LinkError(ReturnCode.UNAVAILABLE, "stream closed")

    def close(self) -> None:
        """Cancel the stream (answers still owed to it are failed by the reader)."""
        if not self.closed:
            self.closed = True
            self._call.cancel()
            self._writer.cancel()


def rpc_failure(e: grpc.aio.AioRpcError, status_code) -> LinkError:
    return LinkError(status_code(e), f"grpc {e.code().name}: {e.details()}", e.code())
