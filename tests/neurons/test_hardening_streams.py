"""Issue 14, finding 3: a stream whose client never reads made the miner buffer every answer
(an unbounded queue; a frame's slot was freed when its answer was queued, not sent). Now answers
waiting to be sent hold the stream's window (frames and bytes), an undrained stream stops being
read, and it is ended after `stream_send_timeout_s`. Real axon, a real gRPC client that writes
frames and never reads its answers."""
from __future__ import annotations

import asyncio
import gc

import grpc
import torch
from hardening_kit import rss_bytes, serving, signed

from protocol import envelope, service, stream
from protocol.codes import ReturnCode

ANSWER = 128 << 10   # bytes of each answer
MIB = 1 << 20


class Big:
    def __init__(self):
        self.calls = 0

    def __call__(self, call):
        self.calls += 1
        return {"y": torch.ones(ANSWER // 4)}


def frames(n: int) -> list[bytes]:
    return [stream.encode_frame(i + 1, signed(), timeout_ms=30_000) for i in range(n)]


def test_a_stream_that_is_never_read_is_not_buffered_and_times_out():
    async def main():
        handler = Big()
        cfg = dict(max_inflight_per_stream=8, max_stream_pending_bytes=1 * MIB, stream_send_timeout_s=1.0,
                   rate_per_s=1e6, burst=1e6, max_inflight_per_caller=1000)
        async with serving(handler, **cfg) as axon:
            data = frames(300)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}",
                                                 options=service.channel_options(64 << 20)) as ch:
                gc.collect()
                before = rss_bytes()
                call = service.stream_call(ch)()
                for d in data:
                    await call.write(d)   # ~300 bytes each: they fit the connection's window
                await asyncio.sleep(1.0)  # never read an answer
                answered, grown = handler.calls, rss_bytes() - before
                print(f"answered {answered} of 300 unread frames; RSS +{grown / MIB:.1f} MiB")
                assert answered < 120, f"{answered} of 300 frames answered with none read"
                assert grown < 1 * MIB + 8 * ANSWER + 12 * MIB, f"RSS grew {grown / MIB:.1f} MiB"
                # the bound: the byte window plus the answers of the frames in the window
                assert axon._streams.pending_bytes <= 1 * MIB + 8 * (ANSWER + 1024)
                for _ in range(40):       # ended after stream_send_timeout_s without progress
                    if axon._streams.timed_out:
                        break
                    await asyncio.sleep(0.1)
                assert axon._streams.timed_out == 1
                await asyncio.sleep(0.1)
                assert axon._streams.pending_bytes == 0
                assert handler.calls == answered  # nothing more was read from it
                call.cancel()
            # the axon still serves a client that reads
            async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}",
                                                 options=service.channel_options(64 << 20)) as ch:
                call = service.stream_call(ch)()
                await call.write(frames(1)[0])
                fid, _, payload = stream.parse_frame(await call.read())
                assert envelope.parse_response(payload, max_bytes=64 << 20).code == ReturnCode.SUCCESS
                call.cancel()
    asyncio.run(main())
