"""The axon's Stream method over real gRPC: answers leave as they finish, a stream is served at most
`max_inflight_per_stream` frames at once, a frame's timeout is its deadline, a malformed frame ends
only its own stream, and the dendrite keeps one stream per miner."""
from __future__ import annotations

import asyncio
import contextlib
import time

import grpc
import pytest
import torch
from substrateinterface import Keypair

from neurons.axon import Axon, CallerInfo, Reply
from neurons.config.schema import AxonSection
from neurons.dendrite import Dendrite, Endpoint
from protocol import envelope, service, stream
from protocol.codes import ReturnCode

MINER = Keypair.create_from_uri("//StreamTestMiner")
VALI = Keypair.create_from_uri("//StreamTestValidator")
TABLE = {VALI.ss58_address: CallerInfo(0, 1000.0, True)}


@contextlib.asynccontextmanager
async def serving(handler, **cfg):
    axon = Axon(MINER, caller_info=TABLE.get, config=AxonSection(**cfg))
    axon.attach("echo", handler)
    await axon.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}") as ch:
            yield axon, service.stream_call(ch)()
    finally:
        await axon.stop(0)


def frame(fid: int, who: str, timeout_ms: int = 5000) -> bytes:
    req = envelope.build_request(VALI, synapse="echo", receiver=MINER.ss58_address,
                                 body=envelope.encode_body({"x": torch.zeros(2)}, {"who": who}))
    return stream.encode_frame(fid, req, timeout_ms)


def answer(data: bytes) -> tuple[int, envelope.Response]:
    fid, _, payload = stream.parse_frame(data)
    return fid, envelope.parse_response(payload, max_bytes=1 << 20)


def test_answers_leave_as_they_finish_not_in_the_order_sent():
    async def handler(call):
        if call.fields["who"] == "slow":
            await asyncio.sleep(0.3)
        return Reply(call.tensors, call.fields)

    async def main():
        async with serving(handler) as (_, call):
            await call.write(frame(1, "slow"))
            await call.write(frame(2, "fast"))
            first, second = answer(await call.read()), answer(await call.read())
            assert [first[0], second[0]] == [2, 1]
            assert first[1].code == second[1].code == ReturnCode.SUCCESS
    asyncio.run(main())


def test_a_stream_is_served_at_most_max_inflight_frames_at_once():
    running, peak, release = [0], [0], asyncio.Event()

    async def handler(call):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await release.wait()
        running[0] -= 1
        return {}

    async def main():
        async with serving(handler, max_inflight_per_stream=2) as (_, call):
            for i in range(5):
                await call.write(frame(i, "x"))
            deadline = time.monotonic() + 5
            while running[0] < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the other three stay unread while two are served
            assert (running[0], peak[0]) == (2, 2)
            release.set()
            got = sorted([answer(await call.read())[0] for _ in range(5)])
            assert got == [0, 1, 2, 3, 4] and peak[0] == 2
    asyncio.run(main())


def test_the_frame_timeout_is_the_request_deadline():
    async def slow(call):
        await asyncio.sleep(3)
        return {}

    async def main():
        async with serving(slow, timeout_s=30) as (_, call):
            t0 = time.perf_counter()
            await call.write(frame(1, "x", timeout_ms=200))
            fid, resp = answer(await call.read())
            assert (fid, resp.code) == (1, ReturnCode.TIMEOUT) and time.perf_counter() - t0 < 1.5
    asyncio.run(main())


def test_a_malformed_frame_ends_only_its_own_stream():
    async def echo(call):
        return Reply(call.tensors, call.fields)

    async def main():
        async with serving(echo) as (axon, call):
            await call.write(frame(1, "x"))
            assert answer(await call.read())[1].code == ReturnCode.SUCCESS
            await call.write(b"\xff\xff\xff")  # not a frame: its answer could not be matched
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await call.read()
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            async with Dendrite(VALI) as d:  # everyone else is still served
                [r] = await d.query([Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)], "echo",
                                    {"x": torch.ones(3)}, timeout=5)
                assert r.ok
    asyncio.run(main())


def test_the_dendrite_keeps_one_stream_per_miner_and_replaces_a_broken_one():
    async def echo(call):
        return Reply(call.tensors, call.fields)

    async def main():
        async with serving(echo) as (axon, _), Dendrite(VALI) as d:
            ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
            for _ in range(5):
                assert all(r.ok for r in await d.query([ep, ep], "echo", {"x": torch.ones(3)}, timeout=5))
            link = d.channels.link(ep.address)
            assert d.channels.opened == 1 and not link.closed
            link.close()  # as if the stream had broken
            [r] = await d.query([ep], "echo", {"x": torch.ones(3)}, timeout=5)
            assert r.ok and d.channels.link(ep.address) is not link and d.channels.opened == 1
    asyncio.run(main())
