"""The axon's side of `rpc Stream`: the frames of one stream served concurrently, answered as they finish.

At most `max_inflight` frames of a stream are served at once; the next frame is not read before
one finishes, so a caller that sends faster than it is served is slowed by HTTP/2 flow control
instead of growing a queue here. A frame that cannot be parsed ends the stream (its answer
could not be matched to a request); the frames before it are still answered.
"""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable

import grpc

from protocol import stream, wire

# answer(payload, seconds the caller waits or None, peer) -> (response buffers, total length)
Answer = Callable[[memoryview, "float | None", str], Awaitable[tuple[list, int]]]


class StreamSessions:
    """Serves streams for one axon; `drain()` stops every stream from reading new frames."""

    def __init__(self, answer: Answer, max_inflight: int):
        self._answer = answer
        self.max_inflight = max_inflight
        self._readers: set[asyncio.Task] = set()

    def drain(self) -> None:
        """Stop reading: frames already read are answered, then each stream ends with status OK."""
        for reader in list(self._readers):
            reader.cancel()

    async def serve(self, frames: AsyncIterator[bytes], context: grpc.aio.ServicerContext):
        """The Stream handler (an async generator of answer frames)."""
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()  # answer frames, then None (or a str: abort with it)
        slots = asyncio.Semaphore(self.max_inflight)
        busy: set[asyncio.Task] = set()
        peer = context.peer()

        async def one(fid: int, timeout_ms: int, payload: memoryview) -> None:
            try:
                parts, n = await self._answer(payload, timeout_ms / 1000 if timeout_ms else None, peer)
                out.put_nowait(b"".join(stream.frame_parts(fid, parts, n)))
            finally:
                slots.release()

        async def read() -> None:
            end = None
            try:
                it = frames.__aiter__()
                while True:
                    await slots.acquire()  # a slot first: a cancelled reader never holds an unserved frame
                    try:
                        data = await it.__anext__()
                    except StopAsyncIteration:
                        break
                    try:
                        fid, timeout_ms, payload = stream.parse_frame(data)
                    except wire.WireError as e:
                        end = f"malformed frame: {e}"
                        break
                    task = loop.create_task(one(fid, timeout_ms, payload))
                    busy.add(task)
                    task.add_done_callback(busy.discard)
            finally:
                if busy:
                    await asyncio.wait(busy)
                out.put_nowait(end)

        reader = loop.create_task(read())
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        try:
            while True:
                item = await out.get()
                if item is None:
                    return
                if isinstance(item, str):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, item)
                yield item
        finally:  # the caller went away (or we are done): nothing left to answer
            reader.cancel()
            for task in list(busy):
                task.cancel()
