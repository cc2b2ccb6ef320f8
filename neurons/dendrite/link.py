"""One long-lived `Stream` call to one axon, carrying many requests at once (protocol/stream.py).

Each request goes out as a frame with a fresh id; a reader task hands every answer frame to the
request waiting for that id. When the stream ends or breaks, every request still waiting fails
with `LinkError` and the link is closed; the pool opens a new one for the next request.
"""
from __future__ import annotations

import asyncio
import itertools

import grpc

from protocol import stream, wire
from protocol.codes import ReturnCode


class LinkError(Exception):
    """The stream failed for the requests in flight on it; `code` is what each of them reports."""

    def __init__(self, code: ReturnCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Link:
    def __init__(self, call: grpc.aio.StreamStreamCall, status_code):
        self._call = call
        self._status_code = status_code          # grpc.aio.AioRpcError -> ReturnCode
        self._waiting: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._write = asyncio.Lock()             # gRPC takes one message at a time per call
        self.closed = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def request(self, parts: list, length: int, timeout: float) -> memoryview:
        """Send one serialized request (its buffers) and return the payload of its answer frame.

        The caller bounds the wait (asyncio.timeout); raises LinkError when the stream fails."""
        fid = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[fid] = answer
        data = b"".join(stream.frame_parts(fid, parts, length, min(stream.MAX_TIMEOUT_MS, max(1, int(timeout * 1000)))))
        try:
            async with self._write:
                await self._send(data)
            return await answer
        finally:
            self._waiting.pop(fid, None)

    async def _send(self, data: bytes) -> None:
        if self.closed:
            raise LinkError(ReturnCode.UNAVAILABLE, "stream closed")
        sent = False
        try:
            await self._call.write(data)
            sent = True
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as e:
            raise self._failure(e) from None
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # our caller gave up (deadline, first-k)
                raise
            raise LinkError(ReturnCode.UNAVAILABLE, "stream closed") from None  # the call was cancelled under us
        finally:
            if not sent:  # a write cut short may leave half a message behind: retire the stream
                self.close()

    async def _read(self) -> None:
        failure = LinkError(ReturnCode.UNAVAILABLE, "the miner closed the stream")
        try:
            async for msg in self._call:
                try:
                    fid, _, payload = stream.parse_frame(msg)
                except wire.WireError as e:
                    failure = LinkError(ReturnCode.INVALID_RESPONSE, f"unparseable answer frame: {e}")
                    break
                answer = self._waiting.pop(fid, None)
                if answer is not None and not answer.done():
                    answer.set_result(payload)
        except grpc.aio.AioRpcError as e:
            failure = self._failure(e)
        except asyncio.CancelledError:
            failure = LinkError(ReturnCode.UNAVAILABLE, "stream closed")
        finally:
            self.close()
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(failure)
            self._waiting.clear()

    def _failure(self, e: Exception) -> LinkError:
        if isinstance(e, grpc.aio.AioRpcError):
            return LinkError(self._status_code(e), f"grpc {e.code().name}: {e.details()}")
        return LinkError(ReturnCode.UNAVAILABLE, "stream closed")

    def close(self) -> None:
        """Cancel the stream (answers still owed to it are failed by the reader)."""
        if not self.closed:
            self.closed = True
            self._call.cancel()

    def __len__(self) -> int:
        return len(self._waiting)
