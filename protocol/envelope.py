"""Signed request/response envelopes (`Request`, `Response`, `Header` in schema.proto).

Client:  data = build_request(kp, synapse="forward", receiver=miner_ss58, body=body_parts(...))  # or encode_body(...)
         resp = parse_response(reply, max_bytes=...); verify_response(resp, request_uuid=..., expected_signer=miner_ss58)
Server:  req = parse_request(data, max_bytes=...)      # size, structure, version; no crypto
         ... registration / blacklist on req.header.caller ...
         code = verify_request(req, receiver=my_ss58, guard=guard)
         reply = build_response(kp, request=req, code=code, body=...)

What is signed (sr25519, substrateinterface.Keypair) is a fixed preimage built from the header
fields actually sent, including sha256 of the exact body bytes: see _preimage(). Request and
response preimages carry different domain tags, so one can never stand in for the other.
The serialized messages are the bytes handed to gRPC (protocol/service.py): signed bytes = sent bytes.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import time
import uuid as _uuid
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Optional, Union

from substrateinterface import Keypair

from protocol import wire
from protocol.body import Body, body_parts, decode_body, encode_body  # noqa: F401  (re-exported API)
from protocol.codes import EnvelopeError, ReturnCode
from protocol.replay import ReplayGuard

PROTOCOL_VERSION = 1
MAX_HEADER_STR = 256      # synapse, ss58 addresses, uuid
MAX_MESSAGE_BYTES = 4096  # Response.message
_MAX_FIELDS = 64
_REQUEST_TAG = b"opensubnet/request/v1\0"
_RESPONSE_TAG = b"opensubnet/response/v1\0"

__all__ = [
    "PROTOCOL_VERSION", "Body", "EnvelopeError", "body_parts", "Header", "Request", "Response", "build_request",
    "build_response", "decode_body", "encode_body", "parse_request", "parse_response",
    "verify_request", "verify_response",
]


@dataclass(frozen=True)
class Header:
    version: int = 0
    synapse: str = ""
    caller: str = ""
    receiver: str = ""
    nonce: int = 0
    uuid: str = ""
    timestamp_ns: int = 0
    body_sha256: bytes = b""
    signature: bytes = b""

    def to_bytes(self) -> bytes:
        s = lambda f, v: wire.bytes_field(f, v.encode("utf-8")) if v else b""  # noqa: E731
        b = lambda f, v: wire.bytes_field(f, v) if v else b""  # noqa: E731
        return b"".join([
            wire.varint_field(1, self.version), s(2, self.synapse), s(3, self.caller), s(4, self.receiver),
            wire.varint_field(5, self.nonce), s(6, self.uuid), wire.varint_field(7, self.timestamp_ns),
            b(8, self.body_sha256), b(9, self.signature),
        ])

    @classmethod
    def parse(cls, mv: wire.Value) -> "Header":
        if not isinstance(mv, memoryview):
            raise wire.WireError("header: expected an embedded message")
        kw: dict[str, Any] = {}
        for i, (f, wt, v) in enumerate(wire.fields(mv)):
            if i >= _MAX_FIELDS:
                raise wire.WireError("header: too many fields")
            name = _HEADER_FIELDS.get(f)
            if name is None:  # strict: everything accepted is covered by the signature
                raise wire.WireError(f"header: unknown field {f}")
            if name in ("version", "nonce", "timestamp_ns"):
                if wt != wire.VARINT:
                    raise wire.WireError(f"header.{name}: expected a varint")
                kw[name] = v
            elif name in ("body_sha256", "signature"):
                if not isinstance(v, memoryview) or len(v) > MAX_HEADER_STR:
                    raise wire.WireError(f"header.{name}: bad or oversized bytes")
                kw[name] = bytes(v)
            else:
                kw[name] = wire.as_str(v, f"header.{name}", MAX_HEADER_STR)
        if kw.get("version", 0) >= 1 << 32:
            raise wire.WireError("header.version exceeds uint32")
        return cls(**kw)


_HEADER_FIELDS = {i + 1: name for i, name in enumerate(Header.__dataclass_fields__)}


@dataclass(frozen=True)
class Request:
    header: Header
    body: Union[memoryview, bytes]  # a view into the received message (zero-copy)


@dataclass(frozen=True)
class Response:
    code: ReturnCode
    message: str
    header: Optional[Header]  # None when the responder did not sign (e.g. it could not parse the request)
    body: Union[memoryview, bytes]


def _preimage(tag: bytes, h: Header, extra: bytes = b"") -> bytes:
    """Unambiguous bytes to sign: tag, fixed-width ints, then length-prefixed strings and hash."""
    parts = [tag, struct.pack("<IQQ", h.version, h.nonce, h.timestamp_ns)]
    for v in (h.synapse.encode(), h.caller.encode(), h.receiver.encode(), h.uuid.encode(), h.body_sha256):
        parts += [struct.pack("<H", len(v)), v]
    return b"".join(parts) + extra


def _response_extra(code: int, message: str) -> bytes:
    return struct.pack("<I", int(code)) + hashlib.sha256(message.encode("utf-8")).digest()


@lru_cache(maxsize=4096)
def _public_key(ss58: str) -> Keypair:
    return Keypair(ss58_address=ss58)


def _signature_ok(ss58: str, preimage: bytes, signature: bytes) -> bool:
    """True only for a valid sr25519 signature by ss58; any error or odd input is False."""
    if len(signature) != 64:
        return False
    try:
        return _public_key(ss58).verify(preimage, signature) is True
    except Exception:  # bad ss58, malformed key or signature: not authenticated
        return False


def _sha256(data: Any) -> bytes:
    return hashlib.sha256(data).digest()


def _body(body: Any) -> tuple[list, int, bytes]:
    """(buffers, total length, sha256) of a body given as one bytes-like or a list from body_parts()."""
    parts = [body] if isinstance(body, (bytes, bytearray, memoryview)) else list(body)
    h = hashlib.sha256()
    n = 0
    for p in parts:
        h.update(p)
        n += wire.view(p).nbytes
    return parts, n, h.digest()


def build_request(
    keypair: Keypair, *, synapse: str, receiver: str, body: Any, nonce: Optional[int] = None,
    now_ns: Optional[int] = None, uuid: Optional[str] = None,
) -> bytes:
    """Serialized, signed Request: exactly the bytes to send. body: bytes or a body_parts() list."""
    for name, v in (("synapse", synapse), ("receiver", receiver), ("uuid", uuid or "")):
        if len(v.encode("utf-8")) > MAX_HEADER_STR:
            raise ValueError(f"{name} is longer than {MAX_HEADER_STR} bytes; receivers would refuse it")
    parts, n, digest = _body(body)
    h = Header(
        version=PROTOCOL_VERSION, synapse=synapse, caller=keypair.ss58_address, receiver=receiver,
        nonce=secrets.randbits(64) if nonce is None else nonce, uuid=uuid or str(_uuid.uuid4()),
        timestamp_ns=time.time_ns() if now_ns is None else now_ns, body_sha256=digest,
    )
    h = replace(h, signature=keypair.sign(_preimage(_REQUEST_TAG, h)))
    hb = h.to_bytes()
    return b"".join([wire.len_prefix(1, len(hb)), hb, wire.len_prefix(2, n) if n else b"", *parts])


def _parse(data: Any, max_bytes: int, names: dict[int, str], invalid: ReturnCode) -> dict[str, Any]:
    try:
        mv = wire.view(data)
    except (TypeError, wire.WireError) as e:
        raise EnvelopeError(invalid, f"not a byte buffer: {e}") from None
    if len(mv) > max_bytes:
        raise EnvelopeError(ReturnCode.PAYLOAD_TOO_LARGE, f"message of {len(mv)} bytes exceeds the {max_bytes}-byte limit")
    out: dict[str, Any] = {}
    try:
        for i, (f, wt, v) in enumerate(wire.fields(mv)):
            if i >= _MAX_FIELDS:
                raise wire.WireError("too many fields")
            name = names.get(f)
            if name is None:  # strict: a newer protocol bumps PROTOCOL_VERSION instead
                raise wire.WireError(f"unknown field {f}")
            if name == "header":
                out[name] = Header.parse(v)
            elif name == "body":
                if not isinstance(v, memoryview):
                    raise wire.WireError("body: expected bytes")
                out[name] = v
            elif name == "code":
                if wt != wire.VARINT or v not in ReturnCode._value2member_map_:
                    raise wire.WireError(f"unknown return code {v}")
                out[name] = ReturnCode(v)
            elif name == "message":
                out[name] = wire.as_str(v, "message", MAX_MESSAGE_BYTES)
    except wire.WireError as e:
        raise EnvelopeError(invalid, f"malformed message: {e}") from None
    h = out.get("header")
    if h is not None and h.version != PROTOCOL_VERSION:
        raise EnvelopeError(
            ReturnCode.VERSION_MISMATCH,
            f"peer speaks protocol version {h.version}, this node speaks {PROTOCOL_VERSION}; upgrade the older side",
        )
    out.setdefault("body", b"")
    return out


def parse_request(data: Any, *, max_bytes: int) -> Request:
    """Size, structure and version checks only; the signature is checked by verify_request."""
    out = _parse(data, max_bytes, {1: "header", 2: "body"}, ReturnCode.INVALID_REQUEST)
    if "header" not in out:
        raise EnvelopeError(ReturnCode.INVALID_REQUEST, "request has no header")
    return Request(out["header"], out["body"])


def verify_request(req: Request, *, receiver: str, guard: ReplayGuard, now_ns: Optional[int] = None) -> ReturnCode:
    """SUCCESS only for a fresh, correctly signed request to `receiver`; else the failure code.

    Order: structure, receiver, timestamp/nonce (no record), signature, body hash, then the nonce
    is recorded. Nothing is recorded for unauthenticated requests.
    """
    h = req.header
    if h.version != PROTOCOL_VERSION:
        return ReturnCode.VERSION_MISMATCH
    if not h.signature or not h.caller or len(h.body_sha256) != 32:
        return ReturnCode.UNAUTHENTICATED
    if h.receiver != receiver:
        return ReturnCode.WRONG_RECEIVER
    now_ns = time.time_ns() if now_ns is None else now_ns
    code = guard.precheck(h.caller, h.nonce, h.timestamp_ns, now_ns)
    if code != ReturnCode.SUCCESS:
        return code
    if not _signature_ok(h.caller, _preimage(_REQUEST_TAG, h), h.signature):
        return ReturnCode.UNAUTHENTICATED
    if not hmac.compare_digest(_sha256(req.body), h.body_sha256):
        return ReturnCode.UNAUTHENTICATED
    return guard.check(h.caller, h.nonce, h.timestamp_ns, now_ns)


def build_response(
    keypair: Optional[Keypair], *, request: Union[Request, Header, None], code: ReturnCode, body: Any = b"",
    message: str = "",
) -> bytes:
    """Serialized Response, signed when both a keypair and the request header are known.

    body: bytes or a body_parts() list.
    """
    parts, n, digest = _body(body)
    message = message.encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
    rh = request.header if isinstance(request, Request) else request
    hb = b""
    if keypair is not None and rh is not None:
        h = Header(
            version=PROTOCOL_VERSION, synapse=rh.synapse, caller=keypair.ss58_address, receiver=rh.caller,
            nonce=rh.nonce, uuid=rh.uuid, timestamp_ns=time.time_ns(), body_sha256=digest,
        )
        sig = keypair.sign(_preimage(_RESPONSE_TAG, h, _response_extra(code, message)))
        hb = replace(h, signature=sig).to_bytes()
    return b"".join([
        wire.varint_field(1, int(code)),
        wire.bytes_field(2, message.encode("utf-8")) if message else b"",
        wire.bytes_field(3, hb) if hb else b"",
        wire.len_prefix(4, n) if n else b"", *parts,
    ])


def parse_response(data: Any, *, max_bytes: int) -> Response:
    out = _parse(data, max_bytes, {1: "code", 2: "message", 3: "header", 4: "body"}, ReturnCode.INVALID_RESPONSE)
    return Response(out.get("code", ReturnCode.SUCCESS), out.get("message", ""), out.get("header"), out["body"])


def verify_response(resp: Response, *, request_uuid: str, expected_signer: str) -> ReturnCode:
    """SUCCESS when expected_signer signed this code, message and body for request_uuid.

    Anything else is INVALID_RESPONSE, including unsigned responses (their code is only a hint).
    """
    h = resp.header
    ok = (
        h is not None and len(h.signature) == 64 and len(h.body_sha256) == 32
        and h.uuid == request_uuid and h.caller == expected_signer
        and _signature_ok(h.caller, _preimage(_RESPONSE_TAG, h, _response_extra(resp.code, resp.message)), h.signature)
        and hmac.compare_digest(_sha256(resp.body), h.body_sha256)
    )
    return ReturnCode.SUCCESS if ok else ReturnCode.INVALID_RESPONSE
