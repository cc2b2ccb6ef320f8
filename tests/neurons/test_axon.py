"""Axon over real gRPC on loopback with real sr25519 keys: every rejection path answers its
code and the handler provably never runs; hooks fail safely; deadlines; shutdown; metrics."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
import urllib.request

import grpc
import pytest
import torch
from substrateinterface import Keypair

from neurons.axon import Axon, CallerInfo, Reject
from neurons.config.schema import AxonSection
from neurons.dendrite import Dendrite, Endpoint
from protocol import envelope, service, wire
from protocol.codes import ReturnCode
from protocol.envelope import encode_body

MINER = Keypair.create_from_uri("//AxonTestMiner")
VALI = Keypair.create_from_uri("//AxonTestValidator")
POOR = Keypair.create_from_uri("//AxonTestPoor")        # registered, stake below min_stake
STRANGER = Keypair.create_from_uri("//AxonTestStranger")  # not registered
NO_PERMIT = Keypair.create_from_uri("//AxonTestNoPermit")  # enough stake, no validator permit
TABLE = {VALI.ss58_address: CallerInfo(0, 1000.0, True), POOR.ss58_address: CallerInfo(1, 0.5, False),
         NO_PERMIT.ss58_address: CallerInfo(2, 500.0, False)}
X = {"x": torch.arange(16, dtype=torch.float32)}


class Counter:
    """An echo handler that counts its calls (the proof that a rejected request never ran)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, call):
        self.calls += 1
        return dict(call.tensors)


@contextlib.asynccontextmanager
async def serving(handler=None, table=TABLE, metrics_port=None, **cfg):
    cfg.setdefault("min_stake", 1.0)
    axon = Axon(MINER, caller_info=table.get, config=AxonSection(**cfg), metrics_port=metrics_port)
    axon.attach("echo", handler or Counter())
    await axon.start()
    try:
        yield axon
    finally:
        await axon.stop(0)


async def send_raw(axon: Axon, data: bytes, timeout: float = 5.0) -> envelope.Response:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{axon.port}",
                                         options=service.channel_options(64 << 20)) as ch:
        raw = await service.unary_call(ch)(data, timeout=timeout)
    return envelope.parse_response(raw, max_bytes=64 << 20)


def assemble(header: envelope.Header, body: bytes) -> bytes:
    """A Request from a (tampered) header and body, serialized like build_request does."""
    hb = header.to_bytes()
    return wire.len_prefix(1, len(hb)) + hb + wire.len_prefix(2, len(body)) + body


def signed(kp=VALI, *, synapse="echo", receiver=None, **kw) -> bytes:
    return envelope.build_request(kp, synapse=synapse, receiver=receiver or MINER.ss58_address,
                                  body=encode_body(X), **kw)


def tampered(**changes) -> bytes:
    req = envelope.parse_request(signed(), max_bytes=1 << 20)
    return assemble(dataclasses.replace(req.header, **changes), bytes(req.body))


def _other_sig() -> bytes:
    return STRANGER.sign(b"not the preimage")


REJECTIONS = {  # case -> (request bytes factory, expected code)
    "unsigned": (lambda: tampered(signature=b""), ReturnCode.UNAUTHENTICATED),
    "bad signature": (lambda: tampered(signature=_other_sig()), ReturnCode.UNAUTHENTICATED),
    "body swapped after signing": (lambda: tampered(body_hash=b"\0" * 32), ReturnCode.UNAUTHENTICATED),
    "wrong receiver": (lambda: signed(receiver=STRANGER.ss58_address), ReturnCode.WRONG_RECEIVER),
    "stale timestamp": (lambda: signed(now_ns=time.time_ns() - 3600 * 10**9), ReturnCode.STALE),
    "unregistered caller": (lambda: signed(STRANGER), ReturnCode.BLACKLISTED),
    "below minimum stake": (lambda: signed(POOR), ReturnCode.BLACKLISTED),
    "no validator permit": (lambda: signed(NO_PERMIT), ReturnCode.BLACKLISTED),
    "unknown synapse": (lambda: signed(synapse="nope"), ReturnCode.NOT_FOUND),
    "version mismatch": (lambda: tampered(version=1), ReturnCode.VERSION_MISMATCH),
    "garbage bytes": (lambda: b"\xff\x01garbage", ReturnCode.INVALID_REQUEST),
    "oversize payload": (lambda: envelope.build_request(
        VALI, synapse="echo", receiver=MINER.ss58_address,
        body=encode_body({"x": torch.zeros(20_000)})), ReturnCode.PAYLOAD_TOO_LARGE),
}


def test_every_rejection_answers_its_code_and_never_runs_the_handler():
    async def main():
        handler = Counter()
        async with serving(handler, max_request_bytes=64 * 1024, require_validator_permit=True) as axon:
            for case, (make, code) in REJECTIONS.items():
                resp = await send_raw(axon, make())
                assert (case, resp.code) == (case, code), resp.message
                assert handler.calls == 0, case
                if resp.header is not None:  # whatever was signed, the axon signed it
                    assert envelope.verify_response(resp, request_uuid=resp.header.uuid,
                                                    expected_signer=MINER.ss58_address) == ReturnCode.SUCCESS
            assert (await send_raw(axon, signed())).code == ReturnCode.SUCCESS  # still serving
            assert handler.calls == 1
            assert axon.metrics.count("echo", "BLACKLISTED") == 3
            assert axon.metrics.count("<unknown>", "NOT_FOUND") == 1
    asyncio.run(main())


def test_replayed_nonce_is_refused_and_runs_the_handler_once():
    async def main():
        handler = Counter()
        async with serving(handler) as axon:
            data = signed()
            assert (await send_raw(axon, data)).code == ReturnCode.SUCCESS
            assert (await send_raw(axon, data)).code == ReturnCode.REPLAYED
            assert handler.calls == 1
    asyncio.run(main())


def test_far_oversize_request_is_cut_by_grpc_and_reported_as_payload_too_large():
    async def main():
        handler = Counter()
        async with serving(handler, max_request_bytes=64 * 1024) as axon, Dendrite(VALI) as d:
            ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
            [r] = await d.query([ep], "echo", {"x": torch.zeros(1 << 20)}, timeout=5)
            assert r.code == ReturnCode.PAYLOAD_TOO_LARGE, r.message
            [r] = await d.query([ep], "echo", X, timeout=5)
            assert r.ok and handler.calls == 1
    asyncio.run(main())


def test_rate_limit_per_hotkey_and_forgers_cannot_drain_a_bucket():
    async def main():
        handler = Counter()
        async with serving(handler, rate_per_s=0.01, burst=2) as axon:
            # forged requests in the validator's name fail the signature and spend no tokens
            for _ in range(5):
                assert (await send_raw(axon, tampered(signature=_other_sig()))).code == ReturnCode.UNAUTHENTICATED
            codes = [(await send_raw(axon, signed())).code for _ in range(3)]
            assert codes == [ReturnCode.SUCCESS, ReturnCode.SUCCESS, ReturnCode.RATE_LIMITED]
            assert handler.calls == 2
    asyncio.run(main())


def test_hook_and_handler_exceptions_are_server_errors_for_that_request_only():
    async def main():
        boom = {"on": True}

        def blacklist(caller):
            if boom["on"]:
                raise RuntimeError("bug in the subnet's blacklist")
            return False

        def flaky(call):
            if call.fields.get("fail"):
                raise ValueError("bug in the handler")
            if call.fields.get("reject"):
                raise Reject(ReturnCode.INVALID_REQUEST, "shape must be [16]")
            return dict(call.tensors)

        axon = Axon(MINER, caller_info=TABLE.get)
        axon.attach("echo", flaky, blacklist=blacklist)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        async with Dendrite(VALI) as d:
            [r] = await d.query([ep], "echo", X, timeout=5)
            assert r.code == ReturnCode.SERVER_ERROR and "bug" not in r.message  # no internals leak
            boom["on"] = False
            [r] = await d.query([ep], "echo", X, fields={"fail": "1"}, timeout=5)
            assert r.code == ReturnCode.SERVER_ERROR
            [r] = await d.query([ep], "echo", X, fields={"reject": "1"}, timeout=5)
            assert (r.code, r.message) == (ReturnCode.INVALID_REQUEST, "shape must be [16]")
            [r] = await d.query([ep], "echo", X, timeout=5)
            assert r.ok and torch.equal(r.tensors["x"], X["x"])
        await axon.stop(0)
    asyncio.run(main())


def test_wrong_hook_signature_fails_at_attach():
    axon = Axon(MINER, caller_info=TABLE.get)
    with pytest.raises(TypeError, match="blacklist"):
        axon.attach("echo", lambda call: {}, blacklist=lambda: False)
    with pytest.raises(TypeError, match="forward"):
        axon.attach("echo", lambda call, extra: {})
    with pytest.raises(TypeError, match="priority"):
        axon.attach("echo", lambda call: {}, priority=42)
    axon.attach("echo", lambda call: {}, verify=lambda call, strict=True: True)  # defaults are fine


def test_verify_hook_false_is_invalid_request_before_the_handler():
    async def main():
        handler = Counter()
        axon = Axon(MINER, caller_info=TABLE.get)

        async def verify(call):  # async hooks work too
            return call.tensors["x"].numel() == 16

        axon.attach("echo", handler, verify=verify)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        async with Dendrite(VALI) as d:
            [r] = await d.query([ep], "echo", {"x": torch.zeros(3)}, timeout=5)
            assert r.code == ReturnCode.INVALID_REQUEST and handler.calls == 0
            [r] = await d.query([ep], "echo", X, timeout=5)
            assert r.ok and handler.calls == 1
        await axon.stop(0)
    asyncio.run(main())


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_priority_queue_serves_highest_stake_first_and_sheds_the_lowest(kind):
    """One handler slot, blocked; callers of different stake queue up; release and record."""
    keys = [Keypair.create_from_uri(f"//AxonTestStake{i}") for i in range(5)]
    stakes = [10.0, 50.0, 20.0, 40.0, 30.0]
    table = {k.ss58_address: CallerInfo(i, s, True) for i, (k, s) in enumerate(zip(keys, stakes))}
    table[VALI.ss58_address] = CallerInfo(9, 1.0, True)

    async def main():
        gate, order = threading.Event(), []

        async def async_handler(call):
            if call.fields.get("who") == "blocker":
                await asyncio.to_thread(gate.wait, 10)
            order.append(call.fields["who"])
            return {}

        def sync_handler(call):  # runs in the axon's thread pool
            if call.fields.get("who") == "blocker":
                gate.wait(10)  # bounded, so a failing test cannot hang the interpreter
            order.append(call.fields["who"])
            return {}

        handler = async_handler if kind == "async" else sync_handler

        axon = Axon(MINER, caller_info=table.get, config=AxonSection(concurrency=1, max_queue=4))
        axon.attach("echo", handler)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        dendrites = [Dendrite(k) for k in keys]
        async with Dendrite(VALI) as blocker_d:
            blocker = asyncio.create_task(blocker_d.query([ep], "echo", {}, fields={"who": "blocker"}, timeout=10))
            while axon.metrics.active.collect()[0].samples[0].value == 0:  # the blocker holds the slot
                await asyncio.sleep(0.005)
            queued = []
            for i, d in enumerate(dendrites):  # arrive in index order: stakes 10, 50, 20, 40, 30
                queued.append(asyncio.create_task(d.query([ep], "echo", {}, fields={"who": str(i)}, timeout=10)))
                while axon.queue_depth < min(i + 1, 4) and not queued[-1].done():
                    await asyncio.sleep(0.005)
            # 5 waiters for 4 places: the lowest stake (10, index 0) was shed
            [shed] = await queued[0]
            assert shed.code == ReturnCode.OVERLOADED, shed
            gate.set()
            results = [(await q)[0] for q in queued[1:]]
            assert all(r.ok for r in results) and (await blocker)[0].ok
        assert order == ["blocker", "1", "3", "4", "2"]  # then stakes 50, 40, 30, 20
        for d in dendrites:
            await d.close()
        await axon.stop(0)
    asyncio.run(main())


def test_handler_past_the_deadline_answers_timeout():
    async def main():
        async def slow(call):
            await asyncio.sleep(5)
            return {}

        def slow_sync(call):
            time.sleep(0.5)
            return {}

        axon = Axon(MINER, caller_info=TABLE.get, config=AxonSection(timeout_s=0.2))
        axon.attach("echo", slow)
        axon.attach("sync", slow_sync)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        async with Dendrite(VALI) as d:
            t0 = time.perf_counter()
            [r] = await d.query([ep], "echo", X, timeout=5)
            assert r.code == ReturnCode.TIMEOUT and time.perf_counter() - t0 < 1.0
            [r] = await d.query([ep], "sync", X, timeout=5)
            assert r.code == ReturnCode.TIMEOUT
            # the caller's own, shorter deadline: gRPC DEADLINE_EXCEEDED becomes TIMEOUT
            axon.config.timeout_s = 10
            [r] = await d.query([ep], "echo", X, timeout=0.2)
            assert r.code == ReturnCode.TIMEOUT
        await axon.stop(0)
    asyncio.run(main())


def test_graceful_shutdown_drains_an_in_flight_request():
    async def main():
        started = asyncio.Event()

        async def slowish(call):
            started.set()
            await asyncio.sleep(0.3)
            return dict(call.tensors)

        axon = Axon(MINER, caller_info=TABLE.get)
        axon.attach("echo", slowish)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        async with Dendrite(VALI) as d:
            inflight = asyncio.create_task(d.query([ep], "echo", X, timeout=5))
            await started.wait()
            await axon.stop(grace=2)  # returns only after the in-flight request finished
            [r] = await inflight
            assert r.ok and torch.equal(r.tensors["x"], X["x"])
            [r] = await d.query([ep], "echo", X, timeout=1)  # and nothing new is accepted
            assert r.code == ReturnCode.UNAVAILABLE
    asyncio.run(main())


def test_metrics_count_per_synapse_and_code_and_serve_over_http():
    async def main():
        async with serving(metrics_port=0) as axon, Dendrite(VALI) as d:
            ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
            before = axon.metrics.count("echo", "SUCCESS")
            await d.query([ep] * 3, "echo", X, timeout=5)
            await d.query([ep], "missing", X, timeout=5)
            assert axon.metrics.count("echo", "SUCCESS") == before + 3
            assert axon.metrics.count("<unknown>", "NOT_FOUND") == 1
            port = axon.metrics.port
            text = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
            assert 'axon_requests_total{code="SUCCESS",synapse="echo"} 3.0' in text
            assert "axon_request_seconds_bucket" in text
    asyncio.run(main())


def _self_signed(tmp_path):
    """A throwaway certificate for 127.0.0.1 (what an operator would get from their own CA)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "axon-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "axon.crt").write_bytes(cert_pem)
    (tmp_path / "axon.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path / "axon.crt", tmp_path / "axon.key", cert_pem


def test_tls_axon_serves_a_dendrite_that_trusts_its_certificate(tmp_path):
    crt, key, pem = _self_signed(tmp_path)

    async def main():
        async with serving(tls_cert_file=crt, tls_key_file=key) as axon:
            ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
            async with Dendrite(VALI, root_certificates=pem) as d:
                [r] = await d.query([ep], "echo", X, timeout=5)
                assert r.ok and torch.equal(r.tensors["x"], X["x"])
            async with Dendrite(VALI) as plain:  # plaintext client against a TLS port fails cleanly
                [r] = await plain.query([ep], "echo", X, timeout=2)
                assert r.code == ReturnCode.UNAVAILABLE
    asyncio.run(main())


def test_per_caller_concurrency_cap_refuses_the_extra_request():
    async def main():
        release, handler_calls = asyncio.Event(), []

        async def held(call):
            handler_calls.append(1)
            await release.wait()
            return {}

        axon = Axon(MINER, caller_info=TABLE.get, config=AxonSection(max_inflight_per_caller=2))
        axon.attach("echo", held)
        await axon.start()
        ep = Endpoint(MINER.ss58_address, "127.0.0.1", axon.port)
        async with Dendrite(VALI) as d:
            first = asyncio.create_task(d.query([ep, ep], "echo", X, timeout=5))
            while len(handler_calls) < 2:
                await asyncio.sleep(0.005)
            [r] = await d.query([ep], "echo", X, timeout=5)
            assert r.code == ReturnCode.RATE_LIMITED and "in flight" in r.message
            release.set()
            assert all(r.ok for r in await first) and len(handler_calls) == 2
        await axon.stop(0)
    asyncio.run(main())
