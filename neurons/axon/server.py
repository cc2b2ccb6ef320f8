"""The axon: a miner's gRPC server. Signed envelopes for every synapse, unary or framed on a stream.

Checks run cheapest first, and the body is decoded only after the signature holds:
size cap → header parse → version → synapse known → caller is a canonical address → caller
registered → blacklist (stake, permit, subnet hook, rate limit) → signature, receiver,
timestamp, nonce → per-caller concurrency cap → priority queue (by stake) → [handler slot]
inflated-bytes budget → body decode → verify hook → handler with a deadline. Every per-caller
decision is keyed by the caller's public key (envelope.caller_key); an address spelled in another
network's ss58 format is refused, never given an allowance of its own. Compressed bodies inflate
only inside a handler slot, within the per-caller and total budgets of inflate.py. Every path answers with a ReturnCode, signed by the axon's hotkey whenever the
request's header could be read; nothing a caller sends can raise out of the request. Requests come
one per unary `Call` or as frames on a `Stream` (streams.py); refusals past a source address's
small allowance are held back before they go out (tarpit.py).
Needs Python >= 3.11 (asyncio.timeout_at).
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

import grpc

from protocol import envelope, service
from protocol.body import body_parts
from protocol.codes import EnvelopeError, ReturnCode
from protocol.replay import ReplayGuard

from neurons.config.schema import AxonSection

from .limits import ConcurrencyCap, RateLimiter
from .inflate import InflateBudget, inflated_size
from .metrics import UNKNOWN_SYNAPSE, AxonMetrics
from .priority import Overloaded, PriorityGate
from .routes import Call, Caller, CallerInfo, Reject, Reply, Route, call_hook
from .streams import StreamSessions
from .tarpit import Tarpit

log = logging.getLogger("neurons.axon")


class _Trace:
    """What one request has revealed so far (for the response and the metrics labels)."""
    __slots__ = ("request", "synapse")

    def __init__(self):
        self.request = None
        self.synapse = UNKNOWN_SYNAPSE


class Axon:
    def __init__(self, keypair, *, caller_info: Callable[[str], CallerInfo | None],
                 host: str = "127.0.0.1", port: int = 0, config: AxonSection | None = None,
                 metrics_port: int | None = None, metrics_host: str = "127.0.0.1"):
        self.keypair = keypair
        self.hotkey: str = keypair.ss58_address
        self.host, self.port = host, port
        self.config = cfg = config or AxonSection()
        self.metrics_port, self.metrics_host = metrics_port, metrics_host
        self._caller_info = caller_info
        self._routes: dict[str, Route] = {}
        self._guard = ReplayGuard(cfg.replay_window_s, cfg.max_nonces, cfg.clock_skew_s)
        self._rate = RateLimiter(cfg.rate_per_s, cfg.burst)
        self._per_caller = ConcurrencyCap(cfg.max_inflight_per_caller)
        self._inflate = InflateBudget(cfg.max_inflated_bytes_per_caller, cfg.max_inflated_bytes)
        self._gate = PriorityGate(cfg.concurrency, cfg.max_queue)
        self._tarpit = Tarpit(rate=cfg.quick_refusals_per_s, burst=cfg.quick_refusal_burst, hold_s=cfg.refusal_hold_s,
                              max_held=cfg.max_held_refusals, max_held_bytes=cfg.max_held_refusal_bytes)
        self.metrics = AxonMetrics()
        self.metrics.queue_depth.set_function(lambda: self._gate.waiting)
        self.metrics.active.set_function(lambda: self._gate.active)
        self.metrics.held.set_function(lambda: self._tarpit.held)
        self._streams = StreamSessions(self._answer, cfg.max_inflight_per_stream, cfg.max_stream_pending_bytes,
                                       cfg.stream_send_timeout_s)
        self._executor: ThreadPoolExecutor | None = None
        self._server: grpc.aio.Server | None = None

    # -- set-up ---------------------------------------------------------------------------
    def attach(self, synapse: str, forward: Callable, blacklist: Callable | None = None,
               priority: Callable | None = None, verify: Callable | None = None) -> "Axon":
        """Serve `synapse` with `forward`; hooks are checked now (TypeError on a wrong signature)."""
        if self._server is not None:
            raise RuntimeError("attach synapses before start()")
        if synapse in self._routes:
            raise ValueError(f"synapse {synapse!r} is already attached")
        self._routes[synapse] = Route(synapse, forward, blacklist, priority, verify)
        return self

    async def start(self) -> int:
        """Bind and serve; returns the bound port (useful with port=0)."""
        if self._server is not None:
            raise RuntimeError("axon already started")
        if not self._routes:
            raise RuntimeError("attach at least one synapse before start()")
        cfg = self.config
        if self.metrics_port is not None:  # first: a metrics port in use leaves nothing half-started
            self.metrics.serve(self.metrics_port, self.metrics_host)
        slack = 64 * 1024 + cfg.max_request_bytes // 16  # oversize by a little: a signed PAYLOAD_TOO_LARGE
        self._server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", cfg.max_request_bytes + slack),
            ("grpc.max_send_message_length", cfg.max_response_bytes + 64 * 1024),
            ("grpc.so_reuseport", 0),
        ])
        self._server.add_generic_rpc_handlers([service.axon_handler(self._call, stream=self._streams.serve)])
        address = f"{self.host}:{self.port}"
        if cfg.tls_cert_file is not None:
            creds = grpc.ssl_server_credentials([(cfg.tls_key_file.read_bytes(), cfg.tls_cert_file.read_bytes())])
            self.port = self._server.add_secure_port(address, creds)
        else:
            self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            self.metrics.close()
            raise OSError(f"could not bind {address}: is the port in use?")
        self._executor = ThreadPoolExecutor(cfg.concurrency, thread_name_prefix="axon-handler")
        # nonces seen before this start are forgotten: refuse every request signed before it (STALE)
        self._guard.refuse_until(time.time_ns())
        await self._server.start()
        log.info("axon %s serving %s on %s:%d%s", self.hotkey, ",".join(self._routes), self.host,
                 self.port, " (TLS)" if cfg.tls_cert_file else "")
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new requests, let in-flight ones finish for up to `grace` seconds, then stop."""
        if self._server is None:
            return
        self._streams.drain()
        await self._server.stop(self.config.shutdown_grace_s if grace is None else grace)
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.metrics.close()
        self._server = None
        log.info("axon %s stopped", self.hotkey)

    async def __aenter__(self) -> "Axon":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- one request ------------------------------------------------------------------------
    async def _call(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """The unary Call method (the dendrite uses Stream, see streams.py; both answer alike)."""
        return b"".join((await self._answer(data, context.time_remaining(), context.peer()))[0])

    async def _answer(self, data, remaining: float | None, peer: str) -> tuple[list, int]:
        """The signed response to one request (buffers, total length); `remaining`: seconds the caller
        waits; `peer`: its gRPC peer (a refusal past its source address's allowance is held, tarpit.py)."""
        t0 = time.perf_counter()
        trace = _Trace()
        body, code, message = [], ReturnCode.SUCCESS, ""
        try:
            body = await self._serve(data, remaining, trace)
        except Reject as r:
            code, message = r.code, r.message
        except Exception as e:  # noqa: BLE001 - a bug in a hook or handler fails this request only
            log.warning("synapse %s: %s: %s", trace.synapse, type(e).__name__, e)
            code, message = ReturnCode.SERVER_ERROR, f"server error ({type(e).__name__})"
        if sum(memoryview(p).nbytes for p in body) > self.config.max_response_bytes:
            body, code, message = [], ReturnCode.SERVER_ERROR, "response larger than max_response_bytes"
        out = envelope.response_parts(self.keypair, request=trace.request, code=code, body=body, message=message)
        took = time.perf_counter() - t0
        self.metrics.observe(trace.synapse, code.name, took)
        hold = self._tarpit.delay(code, peer, None if remaining is None else remaining - took)
        if hold:
            await self._tarpit.hold(hold, len(data))
        return out

    async def _serve(self, data, remaining: float | None, trace: _Trace) -> list:
        cfg = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (cfg.timeout_s if remaining is None else min(cfg.timeout_s, remaining))
        if len(data) > cfg.max_request_bytes:
            trace.request = _header_of(data)  # only to address and sign the refusal
            raise Reject(ReturnCode.PAYLOAD_TOO_LARGE, f"request of {len(data)} bytes exceeds {cfg.max_request_bytes}")
        try:  # structure and version (VERSION_MISMATCH), no crypto yet
            req = envelope.parse_request(data, max_bytes=cfg.max_request_bytes)
        except EnvelopeError as e:
            raise Reject(e.code, str(e)) from None
        trace.request = req
        h = req.header
        route = self._routes.get(h.synapse)
        if route is None:
            raise Reject(ReturnCode.NOT_FOUND, f"no synapse {h.synapse[:64]!r} here; serving {sorted(self._routes)}")
        trace.synapse = route.synapse
        key = envelope.caller_key(h.caller)
        if key is None:  # before any look-up: a string that is not the chain's spelling of a key costs nothing
            raise Reject(ReturnCode.INVALID_REQUEST, f"caller {h.caller[:64]!r} is not an ss58 address in the "
                         f"chain's format ({envelope.SS58_FORMAT}); sign with the hotkey's own address")
        caller = await self._admit(route, h.caller, key)
        code = envelope.verify_request(req, receiver=self.hotkey, guard=self._guard)
        if code != ReturnCode.SUCCESS:
            raise Reject(code, f"request failed authentication: {code.name}")
        if not self._rate.spend(key):
            raise Reject(ReturnCode.RATE_LIMITED, f"more than {cfg.rate_per_s:g} requests/s")
        if not self._per_caller.try_acquire(key):
            raise Reject(ReturnCode.RATE_LIMITED, f"more than {cfg.max_inflight_per_caller} requests in flight")
        try:
            return await self._handle(route, caller, req, deadline)
        finally:
            self._per_caller.release(key)

    async def _admit(self, route: Route, hotkey: str, key: bytes) -> Caller:
        """Registered → stake → permit → subnet blacklist → rate limit (peek: nothing spent before the signature)."""
        cfg = self.config
        info = self._caller_info(hotkey)
        if info is None:
            raise Reject(ReturnCode.BLACKLISTED, "caller hotkey is not registered on this subnet")
        if info.stake < cfg.min_stake:
            raise Reject(ReturnCode.BLACKLISTED, f"caller stake {info.stake:g} is below the minimum {cfg.min_stake:g}")
        if cfg.require_validator_permit and not info.validator_permit:
            raise Reject(ReturnCode.BLACKLISTED, "caller holds no validator permit")
        caller = Caller(hotkey, info, route.synapse)
        if route.blacklist is not None:
            verdict = await call_hook(route.blacklist, caller)
            blocked, reason = verdict if isinstance(verdict, tuple) else (verdict, "")
            if blocked:
                raise Reject(ReturnCode.BLACKLISTED, reason or "blacklisted by the subnet")
        if not self._rate.peek(key):
            raise Reject(ReturnCode.RATE_LIMITED, f"more than {cfg.rate_per_s:g} requests/s")
        return caller

    async def _handle(self, route: Route, caller: Caller, req, deadline: float) -> list:
        """Queue for a handler slot, then (in the slot) inflate and decode the body, verify, run."""
        try:
            inflate = inflated_size(req.body)  # read from the tensors' headers; nothing inflated yet
        except EnvelopeError as e:
            raise Reject(e.code, f"bad body: {e}") from None
        priority = caller.stake if route.priority is None else float(await call_hook(route.priority, caller))
        queued = True
        try:
            async with asyncio.timeout_at(deadline) as clock:  # one timer covers queue + handler
                try:
                    await self._gate.acquire(priority)
                except Overloaded as e:
                    raise Reject(ReturnCode.OVERLOADED, str(e)) from None
                queued = False
                out = await self._in_slot(route, caller, req, deadline, inflate)
        except TimeoutError:
            if not clock.expired():
                raise  # the handler's own TimeoutError: a server error like any other
            raise Reject(ReturnCode.TIMEOUT, "deadline passed while queued" if queued
                         else "handler missed the deadline") from None
        return _encode_reply(out)

    async def _in_slot(self, route: Route, caller: Caller, req, deadline: float, inflate: int) -> Any:
        """Holding a gate slot: reserve the inflated bytes, decode, verify, run. The slot and the bytes
        are given back together when the handler really ends (a sync thread can't be killed)."""
        code, why = self._inflate.take(caller.key, inflate)
        if code != ReturnCode.SUCCESS:
            self._gate.release()
            raise Reject(code, why)

        def release() -> None:
            self._inflate.give(caller.key, inflate)
            self._gate.release()

        try:
            try:
                body = envelope.decode_body(req.body, max_bytes=self.config.max_request_bytes)
            except EnvelopeError as e:
                raise Reject(e.code, f"bad body: {e}") from None
            call = Call(caller, body.tensors, body.fields, req.header.uuid, deadline)
            del body
            if route.verify is not None and await call_hook(route.verify, call) is False:
                raise Reject(ReturnCode.INVALID_REQUEST, "rejected by the synapse's verify hook")
        except BaseException:
            release()
            raise
        return await self._run(route, call, release)

    async def _run(self, route: Route, call: Call, release: Callable[[], None]) -> Any:
        """Run the handler; `release` (slot and bytes) runs once it really ends."""
        if route.forward_is_async:
            try:
                return await route.forward(call)
            finally:
                release()
        loop = asyncio.get_running_loop()
        try:
            cf = self._executor.submit(route.forward, call)
        except BaseException:
            release()
            raise
        cf.add_done_callback(lambda _: _call_soon_threadsafe(loop, release))
        return await asyncio.wrap_future(cf, loop=loop)

    # -- introspection ------------------------------------------------------------------------
    @property
    def synapses(self) -> list[str]:
        return sorted(self._routes)

    @property
    def queue_depth(self) -> int:
        return self._gate.waiting


def _call_soon_threadsafe(loop: asyncio.AbstractEventLoop, fn: Callable) -> None:
    try:
        loop.call_soon_threadsafe(fn)
    except RuntimeError:  # the loop closed while a late handler thread finished: nothing to release
        pass


def _header_of(data: bytes):
    """The header of an oversized request, or None: the bytes are already here, only fields are walked."""
    try:
        return envelope.parse_request(data, max_bytes=len(data)).header
    except EnvelopeError:
        return None


def _encode_reply(out: Any) -> list:
    """The handler's answer as body buffers (tensor payloads are views; build_response copies them once)."""
    if isinstance(out, (bytes, bytearray, memoryview)):
        return [out]
    if isinstance(out, Reply):
        return body_parts(out.tensors, out.fields)
    if isinstance(out, Mapping):
        return body_parts(out)
    raise TypeError(f"handler returned {type(out).__name__}; return a mapping of tensors, a Reply or bytes")
