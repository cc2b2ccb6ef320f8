"""The axon's side of `rpc Stream`: the frames of one stream served concurrently, answered as they finish.

A stream has a window: at most `max_inflight` frames between being read and their answer being
sent, and at most `max_pending_bytes` of answers waiting to be sent. A frame's place in the
window is given back only when gRPC has taken its answer, so a client that stops reading stops
being read: its frames wait unread (HTTP/2 flow control slows the sender) instead of answers
piling up here. A stream whose waiting answers make no progress for `send_timeout_s` is ended.
A frame that cannot be parsed ends the stream (its answer could not be matched to a request);
the frames before it are still answered.
"""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Awaitable, Callable

import grpc

from protocol import stream, wire

log = logging.getLogger("neurons.axon")

# answer(payload, seconds the caller waits or None, peer) -> (response buffers, total length)
Answer = Callable[[memoryview, "float | None", str], Awaitable[tuple[list, int]]]


class StreamSessions:
    """Serves streams for one axon; `drain()` stops every stream from reading new frames."""

    def __init__(self, answer: Answer, max_inflight: int, max_pending_bytes: int = 64 << 20,
                 send_timeout_s: float = 15.0):
        self._answer = answer
        self.max_inflight, self.max_pending_bytes, self.send_timeout_s = max_inflight, max_pending_bytes, send_timeout_s
        self._readers: set[asyncio.Task] = set()
        self.pending_bytes = 0   # answer bytes waiting to be sent, over all streams
        self.timed_out = 0       # streams ended because their answers did not drain

    def drain(self) -> None:
        """Stop reading: frames already read are answered, then each stream ends with status OK."""
        for reader in list(self._readers):
            reader.cancel()

    async def serve(self, frames: AsyncIterator[bytes], context: grpc.aio.ServicerContext):
        """The Stream handler (an async generator of answer frames)."""
        loop = asyncio.get_running_loop()
        out: asyncio.Queue = asyncio.Queue()  # answer frames (at most max_inflight), then None or a str (abort)
        slots = asyncio.Semaphore(self.max_inflight)  # a slot: read → answered → sent
        room = asyncio.Event()                 # set while this stream's waiting answers fit its byte window
        room.set()
        pending = [0]                          # this stream's answer bytes waiting to be sent
        busy: set[asyncio.Task] = set()
        peer = context.peer()

        def wait_to_send(n: int) -> None:
            pending[0] += n
            self.pending_bytes += n
            if pending[0] >= self.max_pending_bytes:
                room.clear()

        def sent(n: int) -> None:
            pending[0] -= n
            self.pending_bytes -= n
            if pending[0] < self.max_pending_bytes:
                room.set()
            slots.release()

        async def one(fid: int, timeout_ms: int, payload: memoryview) -> None:
            try:
                parts, n = await self._answer(payload, timeout_ms / 1000 if timeout_ms else None, peer)
                frame = b"".join(stream.frame_parts(fid, parts, n))
            except BaseException:
                slots.release()
                raise
            wait_to_send(len(frame))
            out.put_nowait(frame)  # its slot comes back once it is sent

        async def read() -> None:
            end = None
            try:
                it = frames.__aiter__()
                while True:
                    await slots.acquire()  # a slot first: a cancelled reader never holds an unserved frame
                    await room.wait()      # and room for its answer: a stream that is not drained is not read
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

        me = asyncio.current_task()
        sending_since = [None]  # loop.time() when the answer being handed to gRPC started waiting

        async def watchdog() -> None:
            while True:
                await asyncio.sleep(self.send_timeout_s / 4)
                since = sending_since[0]
                if since is not None and loop.time() - since > self.send_timeout_s:
                    self.timed_out += 1
                    log.info("stream from %s ended: its answers were not read for %.0f s", peer, self.send_timeout_s)
                    me.cancel()
                    return

        item = None
        reader = loop.create_task(read())
        dog = loop.create_task(watchdog())
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        try:
            while True:
                item = await out.get()
                if item is None:
                    return
                if isinstance(item, str):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, item)
                sending_since[0] = loop.time()
                yield item             # resumes once gRPC has taken the answer
                sending_since[0] = None
                sent(len(item))
                item = None
        finally:  # the caller went away, the stream timed out, or we are done: nothing left to answer
            dog.cancel()
            reader.cancel()
            for task in list(busy):
                task.cancel()
            if isinstance(item, bytes):  # the answer gRPC had not taken yet
                pending[0] -= len(item)
                self.pending_bytes -= len(item)
            while not out.empty():
                item = out.get_nowait()
                if isinstance(item, bytes):
                    pending[0] -= len(item)
                    self.pending_bytes -= len(item)
