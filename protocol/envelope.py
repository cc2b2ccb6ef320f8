"""Signed request/response envelopes (`Request`, `Response`, `Header` in schema.proto).

Client:  data = build_request(kp, synapse="forward", receiver=miner_ss58, body=body_parts(...))  # or encode_body(...)
         resp = parse_response(reply, max_bytes=...); verify_response(resp, request_uuid=..., expected_signer=miner_ss58)
Server:  req = parse_request(data, max_bytes=...)      # size, structure, version; no crypto
         ... registration / blacklist on req.header.caller ...
         code = verify_request(req, receiver=my_ss58, guard=guard)
         reply = build_response(kp, request=req, code=code, body=...)

What is signed (sr25519, substrateinterface.Keypair) is a fixed preimage built from the header
fields actually sent, including sha256 of the exact body bytes: see _preimage_bytes(). Request and
response preimages carry different domain tags, so one can never stand in for the other.
The serialized messages are the bytes handed to gRPC (protocol/service.py): signed bytes = sent bytes.
Signing and verifying call the `sr25519` binding that Keypair itself uses, with Keypair.sign/verify's
exact semantics (same signatures, interchangeable with Keypair), minus its per-call overhead.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Union

import sr25519  # py-sr25519-bindings: the library substrateinterface.Keypair signs and verifies with
from substrateinterface import Keypair, KeypairType

from google.protobuf.message import DecodeError

from protocol import schema_pb2, wire
from protocol.body import Body, body_parts, decode_body, encode_body  # noqa: F401  (re-exported API)
from protocol.codes import EnvelopeError, ReturnCode
from protocol.replay import ReplayGuard

PROTOCOL_VERSION = 1
MAX_HEADER_STR = 256      # synapse, ss58 addresses, uuid
MAX_HEADER_BYTES = 2048   # a whole Header (nine fields, each string at most MAX_HEADER_STR)
MAX_MESSAGE_BYTES = 4096  # Response.message
_MAX_FIELDS = 64
_REQUEST_TAG = b"opensubnet/request/v1\0"
_RESPONSE_TAG = b"opensubnet/response/v1\0"

__all__ = [
    "PROTOCOL_VERSION", "Body", "EnvelopeError", "body_parts", "Header", "Request", "Response", "build_request",
    "build_response", "decode_body", "encode_body", "parse_request", "parse_response", "request_parts",
    "response_parts", "verify_request", "verify_response",
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
        return _header_bytes(self.version, self.synapse, self.caller, self.receiver, self.nonce, self.uuid,
                             self.timestamp_ns, self.body_sha256, self.signature)

    @classmethod
    def parse(cls, mv: wire.Value) -> "Header":
        """Strict: only the canonical encoding of fields 1..9 (what every writer of the schema emits).

        Unknown, repeated or reordered fields and over-long varints are refused, so the bytes
        accepted are one-to-one with the signed values. Parsed by the generated class (upb).
        """
        if not isinstance(mv, memoryview):
            raise wire.WireError("header: expected an embedded message")
        if len(mv) > MAX_HEADER_BYTES:
            raise wire.WireError(f"header: {len(mv)} bytes exceeds {MAX_HEADER_BYTES}")
        raw = bytes(mv)
        try:
            m = _PB_HEADER.FromString(raw)
        except DecodeError as e:  # e.g. invalid UTF-8 in a string field, truncated field
            raise wire.WireError(f"header: {e}") from None
        m.DiscardUnknownFields()
        if m.SerializeToString() != raw:
            raise wire.WireError("header: not in canonical form (unknown, repeated or out-of-order fields, "
                                 "or an out-of-range version)")
        h = cls(m.version, m.synapse, m.caller, m.receiver, m.nonce, m.uuid, m.timestamp_ns, m.body_sha256,
                m.signature)
        for name, v in (("synapse", _utf8(h.synapse)), ("caller", _utf8(h.caller)), ("receiver", _utf8(h.receiver)),
                        ("uuid", h.uuid.encode()), ("body_sha256", h.body_sha256), ("signature", h.signature)):
            if len(v) > MAX_HEADER_STR:
                raise wire.WireError(f"header.{name}: longer than {MAX_HEADER_STR} bytes")
        return h


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


_IQQ, _H = struct.Struct("<IQQ").pack, struct.Struct("<H").pack
_PB_HEADER = schema_pb2.Header  # the generated class (upb) writes and reads the canonical header bytes


def _header_bytes(version: int, synapse: str, caller: str, receiver: str, nonce: int, uuid: str,
                  timestamp_ns: int, body_sha256: bytes, signature: bytes) -> bytes:
    """The serialized Header: fields 1..9 in order, zero/empty ones omitted (proto3)."""
    return _PB_HEADER(version=version, synapse=synapse, caller=caller, receiver=receiver, nonce=nonce, uuid=uuid,
                      timestamp_ns=timestamp_ns, body_sha256=body_sha256, signature=signature).SerializeToString()


def _preimage_bytes(tag: bytes, version: int, synapse: bytes, caller: bytes, receiver: bytes, nonce: int,
                    uuid: bytes, timestamp_ns: int, body_sha256: bytes, extra: bytes = b"") -> bytes:
    """Unambiguous bytes to sign: tag, fixed-width ints, then length-prefixed strings and hash."""
    return b"".join((
        tag, _IQQ(version, nonce, timestamp_ns), _H(len(synapse)), synapse, _H(len(caller)), caller,
        _H(len(receiver)), receiver, _H(len(uuid)), uuid, _H(len(body_sha256)), body_sha256, extra,
    ))


def _preimage(tag: bytes, h: Header, extra: bytes = b"") -> bytes:
    return _preimage_bytes(tag, h.version, _utf8(h.synapse), _utf8(h.caller), _utf8(h.receiver), h.nonce,
                           h.uuid.encode(), h.timestamp_ns, h.body_sha256, extra)


def _signed_header(keypair: Keypair, tag: bytes, synapse: str, receiver: str, nonce: int, uuid: str,
                   timestamp_ns: int, body_sha256: bytes, extra: bytes = b"") -> bytes:
    """Sign the preimage of these fields and serialize them with the signature."""
    caller = keypair.ss58_address
    pre = _preimage_bytes(tag, PROTOCOL_VERSION, _utf8(synapse), _utf8(caller), _utf8(receiver), nonce,
                          uuid.encode(), timestamp_ns, body_sha256, extra)
    return _header_bytes(PROTOCOL_VERSION, synapse, caller, receiver, nonce, uuid, timestamp_ns, body_sha256,
                         _sign(keypair, pre))


@lru_cache(maxsize=4096)
def _utf8(s: str) -> bytes:
    """Encoded synapse names and hotkeys (a small, repeating set)."""
    return s.encode("utf-8")


def _sign(keypair: Keypair, message: bytes) -> bytes:
    """keypair.sign(message): for sr25519 keys the binding is called directly (the same signature)."""
    if getattr(keypair, "crypto_type", None) == KeypairType.SR25519 and keypair.private_key:
        return sr25519.sign((keypair.public_key, keypair.private_key), message)
    return keypair.sign(message)


def _response_extra(code: int, message: str) -> bytes:
    return struct.pack("<I", int(code)) + hashlib.sha256(message.encode("utf-8")).digest()


@lru_cache(maxsize=4096)
def _public_key(ss58: str) -> Optional[bytes]:
    """The sr25519 public key of an ss58 address, None when it is not one (cached per caller)."""
    try:
        return Keypair(ss58_address=ss58).public_key
    except Exception:  # not a valid ss58 address
        return None


def _signature_ok(ss58: str, preimage: bytes, signature: bytes) -> bool:
    """True only for a valid sr25519 signature by ss58; any error or odd input is False.

    Exactly Keypair(ss58_address=ss58).verify(preimage, signature): the message as given, else
    wrapped in <Bytes>...</Bytes> (how polkadot-js signers sign raw bytes).
    """
    if len(signature) != 64 or type(signature) is not bytes:
        return False
    pk = _public_key(ss58)
    if pk is None:
        return False
    try:
        return (sr25519.verify(signature, preimage, pk) is True
                or sr25519.verify(signature, b"<Bytes>" + preimage + b"</Bytes>", pk) is True)
    except Exception:  # malformed key or signature: not authenticated
        return False


def _sha256(data: Any) -> bytes:
    return hashlib.sha256(data).digest()


def _body(body: Any, digest: Optional[bytes] = None) -> tuple[list, int, bytes]:
    """(buffers, total length, sha256) of a body given as one bytes-like or a list from body_parts().

    With `digest` (the sha256 the caller already computed for these bytes) nothing is hashed.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        parts = [body]
        n = body.nbytes if isinstance(body, memoryview) else len(body)
        if digest is None:
            digest = hashlib.sha256(body).digest()
        return parts, n, digest
    parts = list(body)
    h = None if digest is not None else hashlib.sha256()
    n = 0
    for p in parts:
        if h is not None:
            h.update(p)
        n += wire.view(p).nbytes
    return parts, n, digest if h is None else h.digest()


def body_sha256(body: Any) -> bytes:
    """sha256 of a body (bytes or a body_parts() list), to sign one shared body for many receivers."""
    return _body(body)[2]


def build_request(
    keypair: Keypair, *, synapse: str, receiver: str, body: Any, nonce: Optional[int] = None,
    now_ns: Optional[int] = None, uuid: Optional[str] = None, body_sha256: Optional[bytes] = None,
) -> bytes:
    """Serialized, signed Request: exactly the bytes to send. body: bytes or a body_parts() list.

    body_sha256: the body's digest when already known (a fan-out hashes its shared body once,
    see body_sha256()); receivers recompute it, so a wrong one only gets the request refused.
    """
    return b"".join(request_parts(keypair, synapse=synapse, receiver=receiver, body=body, nonce=nonce,
                                  now_ns=now_ns, uuid=uuid, body_sha256=body_sha256)[0])


def request_parts(
    keypair: Keypair, *, synapse: str, receiver: str, body: Any, nonce: Optional[int] = None,
    now_ns: Optional[int] = None, uuid: Optional[str] = None, body_sha256: Optional[bytes] = None,
) -> tuple[list, int]:
    """build_request() as (buffers, total length), for a transport that frames them (protocol/stream.py)."""
    uuid = uuid or secrets.token_hex(16)
    for name, v in (("synapse", _utf8(synapse)), ("receiver", _utf8(receiver)), ("uuid", uuid.encode("utf-8"))):
        if len(v) > MAX_HEADER_STR:
            raise ValueError(f"{name} is longer than {MAX_HEADER_STR} bytes; receivers would refuse it")
    if body_sha256 is not None and (type(body_sha256) is not bytes or len(body_sha256) != 32):
        raise ValueError("body_sha256 must be the 32-byte sha256 digest of the body")
    parts, n, digest = _body(body, body_sha256)
    hb = _signed_header(
        keypair, _REQUEST_TAG, synapse, receiver, secrets.randbits(64) if nonce is None else nonce, uuid,
        time.time_ns() if now_ns is None else now_ns, digest,
    )
    head = wire.len_prefix(1, len(hb)) + hb + (wire.len_prefix(2, n) if n else b"")
    return [head, *parts], len(head) + n


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
    return b"".join(response_parts(keypair, request=request, code=code, body=body, message=message)[0])


def response_parts(
    keypair: Optional[Keypair], *, request: Union[Request, Header, None], code: ReturnCode, body: Any = b"",
    message: str = "",
) -> tuple[list, int]:
    """build_response() as (buffers, total length), for a transport that frames them."""
    parts, n, digest = _body(body)
    message = message.encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
    rh = request.header if isinstance(request, Request) else request
    head = wire.varint_field(1, int(code)) + (wire.bytes_field(2, message.encode("utf-8")) if message else b"")
    if keypair is not None and rh is not None:
        hb = _signed_header(keypair, _RESPONSE_TAG, rh.synapse, rh.caller, rh.nonce, rh.uuid, time.time_ns(), digest,
                            _response_extra(code, message))
        head += wire.bytes_field(3, hb)
    if n:
        head += wire.len_prefix(4, n)
    return [head, *parts], len(head) + n


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
