"""Dendrite over real gRPC on loopback: fan-out, signature checks on answers, deadlines,
first-k early return, the global concurrency limit and channel reuse."""
from __future__ import annotations

import asyncio
import contextlib
import time

import grpc
import torch
from substrateinterface import Keypair

from neurons import echo
from neurons.axon import Axon, CallerInfo
from neurons.dendrite import Dendrite, Endpoint
from protocol import envelope, service
from protocol.codes import ReturnCode

VALI = Keypair.create_from_uri("//DendriteTestValidator")
MINERS = [Keypair.create_from_uri(f"//DendriteTestMiner{i}") for i in range(4)]
TABLE = {VALI.ss58_address: CallerInfo(0, 100.0, True)}
X = {"x": torch.randn(4, 8)}


@contextlib.asynccontextmanager
async def axons(handler=echo.forward, slow_uids=()):
    """Running axons answering `handler` on "echo" (uids in slow_uids first sleep 3 s);
    yields their endpoints (uid = index)."""
    started = []
    for uid, kp in enumerate(MINERS):
        ax = Axon(kp, caller_info=TABLE.get)
        ax.attach(echo.SYNAPSE, _slow(handler) if uid in slow_uids else handler)
        await ax.start()
        started.append(ax)
    try:
        yield [Endpoint(ax.hotkey, "127.0.0.1", ax.port, uid=i) for i, ax in enumerate(started)]
    finally:
        for ax in started:
            await ax.stop(0)


def test_fan_out_returns_typed_results_in_endpoint_order():
    async def main():
        async with axons() as eps, Dendrite(VALI) as d:
            results = await d.query(eps, "echo", X, fields={"task": "t1"}, timeout=5)
        assert [r.uid for r in results] == [0, 1, 2, 3]
        for r in results:
            assert r.ok and r.latency_s > 0 and r.fields == {"task": "t1"}
            assert r.tensors["x"].dtype == torch.float32 and torch.equal(r.tensors["x"], X["x"])
    asyncio.run(main())


def test_body_is_encoded_once_per_query(monkeypatch):
    calls = []
    real = envelope.body_parts  # the tensor views every miner's frame copies from
    monkeypatch.setattr(envelope, "body_parts", lambda *a, **k: calls.append(1) or real(*a, **k))

    async def main():
        async with axons(handler=lambda call: b"") as eps, Dendrite(VALI) as d:
            results = await d.query(eps, "echo", X, timeout=5)
        assert all(r.ok for r in results)
    asyncio.run(main())
    assert len(calls) == 1


@contextlib.asynccontextmanager
async def raw_server(respond, *, streams=True):
    """A bare gRPC server speaking the wire format: respond(parsed_request) -> response bytes
    (with streams=False, only the unary Call method, like an axon of an older opensubnet)."""
    server = grpc.aio.server()

    async def handle(data, context):
        return respond(envelope.parse_request(data, max_bytes=1 << 20))

    frames = service.answer_in_order(handle) if streams else None
    server.add_generic_rpc_handlers([service.axon_handler(handle, stream=frames)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port
    finally:
        await server.stop(0)


def test_answers_not_signed_by_the_expected_miner_are_invalid_response():
    miner, impostor = MINERS[0], MINERS[1]
    ok_body = envelope.encode_body({"y": torch.ones(2)})
    cases = {
        "signed by another hotkey": lambda req: envelope.build_response(
            impostor, request=req, code=ReturnCode.SUCCESS, body=ok_body),
        "unsigned success": lambda req: envelope.build_response(
            None, request=req, code=ReturnCode.SUCCESS, body=ok_body),
        "signed for another request": lambda req: envelope.build_response(
            miner, request=envelope.parse_request(envelope.build_request(
                VALI, synapse="echo", receiver=miner.ss58_address, body=b""), max_bytes=1 << 20),
            code=ReturnCode.SUCCESS, body=ok_body),
        "garbage": lambda req: b"\x0a\xff\xff",
        "undecodable body": lambda req: envelope.build_response(
            miner, request=req, code=ReturnCode.SUCCESS, body=b"\x0a\x05junk!"),
    }

    async def main():
        async with Dendrite(VALI) as d:
            for case, respond in cases.items():
                async with raw_server(respond) as port:
                    [r] = await d.query([Endpoint(miner.ss58_address, "127.0.0.1", port)], "echo", X, timeout=5)
                assert (case, r.code) == (case, ReturnCode.INVALID_RESPONSE), r.message
            async with raw_server(lambda req: envelope.build_response(
                    miner, request=req, code=ReturnCode.SUCCESS, body=ok_body)) as port:
                [r] = await d.query([Endpoint(miner.ss58_address, "127.0.0.1", port)], "echo", X, timeout=5)
            assert r.ok and torch.equal(r.tensors["y"], torch.ones(2))  # the control case passes
    asyncio.run(main())


def test_an_axon_without_the_stream_method_is_queried_by_unary_call():
    miner = MINERS[0]
    seen = []

    def respond(req):
        seen.append(req.header.uuid)
        body = envelope.decode_body(req.body).tensors
        return envelope.build_response(miner, request=req, code=ReturnCode.SUCCESS, body=envelope.encode_body(body))

    async def main():
        async with raw_server(respond, streams=False) as port, Dendrite(VALI) as d:
            ep = Endpoint(miner.ss58_address, "127.0.0.1", port)
            for _ in range(3):  # the first tries Stream (UNIMPLEMENTED), then Call; the pool remembers
                [r] = await d.query([ep], "echo", X, timeout=5)
                assert r.ok and torch.equal(r.tensors["x"], X["x"]), r
            assert len(seen) == 3 and d.channels.transport(ep.address) == "call"
    asyncio.run(main())


def _slow(handler):
    async def slow(call):
        await asyncio.sleep(3)
        return handler(call)
    return slow


def test_deadline_gives_timeout_to_slow_miners_only():
    async def main():
        async with axons(slow_uids=(1, 3)) as eps, Dendrite(VALI) as d:
            t0 = time.perf_counter()
            results = await d.query(eps, "echo", X, timeout=0.5)
            assert time.perf_counter() - t0 < 1.5
        assert [r.code for r in results] == [ReturnCode.SUCCESS, ReturnCode.TIMEOUT] * 2
        assert all(r.latency_s < 1.0 for r in results)
    asyncio.run(main())


def test_first_k_returns_early_and_cancels_the_rest():
    async def main():
        async with axons(slow_uids=(0, 2)) as eps, Dendrite(VALI) as d:
            t0 = time.perf_counter()
            results = await d.query(eps, "echo", X, timeout=10, first_k=2)
            assert time.perf_counter() - t0 < 1.5  # did not wait for the 3 s miners or the 10 s deadline
            assert [r.code for r in results] == [ReturnCode.TIMEOUT, ReturnCode.SUCCESS] * 2
            assert "cancelled" in results[0].message
            assert len(d.channels) == 4  # cancelling a call leaves its channel usable
            again = await d.query(eps[1:2], "echo", X, timeout=5)
            assert again[0].ok
    asyncio.run(main())


def test_global_concurrency_limit_bounds_calls_in_flight():
    now, peak = [0], [0]

    async def handler(call):
        now[0] += 1
        peak[0] = max(peak[0], now[0])
        await asyncio.sleep(0.05)
        now[0] -= 1
        return {}

    async def main():
        async with axons(handler) as eps, Dendrite(VALI, max_concurrency=2) as d:
            results = await d.query(eps * 3, "echo", X, timeout=5)
        assert all(r.ok for r in results) and peak[0] == 2
    asyncio.run(main())


def test_channels_are_reused_and_bounded():
    async def main():
        async with axons() as eps, Dendrite(VALI, max_channels=2) as d:
            for _ in range(5):
                assert all(r.ok for r in await d.query(eps[:2], "echo", X, timeout=5))
            assert d.channels.opened == 2          # five queries, one channel per endpoint
            assert all(r.ok for r in await d.query(eps, "echo", X, timeout=5))
            assert len(d.channels) == 2            # least recently used closed beyond the bound
            assert d.channels.opened == 4
    asyncio.run(main())


def test_unreachable_miner_is_unavailable_and_others_still_answer():
    async def main():
        async with axons() as eps, Dendrite(VALI) as d:
            dead = Endpoint(MINERS[0].ss58_address, "127.0.0.1", 1, uid=99)  # nothing listens on port 1
            results = await d.query([dead, *eps], "echo", X, timeout=3)
        assert results[0].code == ReturnCode.UNAVAILABLE
        assert all(r.ok for r in results[1:])
    asyncio.run(main())


def test_answer_over_the_response_limit_is_invalid_response():
    async def main():
        async with axons() as eps, Dendrite(VALI, max_response_bytes=64 * 1024) as d:
            big, medium = {"x": torch.zeros(60_000)}, {"x": torch.zeros(20_000)}  # 240 KB, 80 KB echoed
            for payload in (big, medium):  # cut by gRPC / refused by the parser
                [r] = await d.query(eps[:1], "echo", payload, timeout=5)
                assert r.code == ReturnCode.INVALID_RESPONSE, r.message
            [r] = await d.query(eps[:1], "echo", X, timeout=5)
            assert r.ok
    asyncio.run(main())
