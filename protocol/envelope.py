"""Signed request/response envelopes (`Request`, `Response`, `Header` in schema.proto).

Client:  data = build_request(kp, synapse="forward", receiver=miner_ss58, body=body_parts(...))  # or encode_body(...)
         resp = parse_response(reply, max_bytes=...); verify_response(resp, request_uuid=..., expected_signer=miner_ss58)
Server:  req = parse_request(data, max_bytes=...)      # size, structure, version; no crypto
         ... registration / blacklist on req.header.caller ...
         code = verify_request(req, receiver=my_ss58, guard=guard)
         reply = build_response(kp, request=req, code=code, body=...)

What is signed (sr25519, substrateinterface.Keypair) is a fixed preimage built from the header
fields actually sent, including the BLAKE3-256 hash of the exact body bytes: see _preimage_bytes().
The wire format and version rules are written down in docs/protocol.md. Request and
response preimages carry different domain tags, so one can never stand in for the other.
The serialized messages are the bytes handed to gRPC (protocol/service.py): signed bytes = sent bytes.
Signing and verifying call the `sr25519` binding that Keypair itself uses, with Keypair.sign/verify's
exact semantics (same signatures, interchangeable with Keypair), minus its per-call overhead.
"""
from __future__ import annotations

import hmac
import secrets
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Union

import blake3
import sr25519  # py-sr25519-bindings: the library substrateinterface.Keypair signs and verifies with
from substrateinterface import Keypair, KeypairType
from scalecodec.utils.ss58 import ss58_decode, ss58_encode

from google.protobuf.message import DecodeError

from protocol import schema_pb2, wire
from protocol.body import Body, body_parts, decode_body, encode_body  # noqa: F401  (re-exported API)
from protocol.codes import EnvelopeError, ReturnCode
from protocol.replay import ReplayGuard

PROTOCOL_VERSION = 2  # v1 hashed bodies with SHA-256; v2 with BLAKE3 (docs/protocol.md)
MAX_HEADER_STR = 256      # synapse, ss58 addresses, uuid
MAX_HEADER_BYTES = 2048   # a whole Header (nine fields, each string at most MAX_HEADER_STR)
MAX_MESSAGE_BYTES = 4096  # Response.message
_MAX_FIELDS = 64
_REQUEST_TAG = b"opensubnet/request/v2\0"
_RESPONSE_TAG = b"opensubnet/response/v2\0"

__all__ = [
    "PROTOCOL_VERSION", "Body", "EnvelopeError", "body_hash", "body_parts", "Header", "Request", "Response", "build_request",
    "build_response", "caller_key", "decode_body", "encode_body", "parse_request", "parse_response", "request_parts",
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
    body_hash: bytes = b""
    signature: bytes = b""

    def to_bytes(self) -> bytes:
        return _header_bytes(self.version, self.synapse, self.caller, self.receiver, self.nonce, self.uuid,
                             self.timestamp_ns, self.body_hash, self.signature)

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
        h = cls(m.version, m.synapse, m.caller, m.receiver, m.nonce, m.uuid, m.timestamp_ns, m.body_hash,
                m.signature)
        for name, v in (("synapse", _utf8(h.synapse)), ("caller", _utf8(h.caller)), ("receiver", _utf8(h.receiver)),
                        ("uuid", h.uuid.encode()), ("body_hash", h.body_hash), ("signature", h.signature)):
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
                  timestamp_ns: int, body_hash: bytes, signature: bytes) -> bytes:
    """The serialized Header: fields 1..9 in order, zero/empty ones omitted (proto3)."""
    return _PB_HEADER(version=version, synapse=synapse, caller=caller, receiver=receiver, nonce=nonce, uuid=uuid,
                      timestamp_ns=timestamp_ns, body_hash=body_hash, signature=signature).SerializeToString()


def _preimage_bytes(tag: bytes, version: int, synapse: bytes, caller: bytes, receiver: bytes, nonce: int,
                    uuid: bytes, timestamp_ns: int, body_hash: bytes, extra: bytes = b"") -> bytes:
    """Unambiguous bytes to sign: tag, fixed-width ints, then length-prefixed strings and hash."""
    return b"".join((
        tag, _IQQ(version, nonce, timestamp_ns), _H(len(synapse)), synapse, _H(len(caller)), caller,
        _H(len(receiver)), receiver, _H(len(uuid)), uuid, _H(len(body_hash)), body_hash, extra,
    ))


def _preimage(tag: bytes, h: Header, extra: bytes = b"") -> bytes:
    return _preimage_bytes(tag, h.version, _utf8(h.synapse), _utf8(h.caller), _utf8(h.receiver), h.nonce,
                           h.uuid.encode(), h.timestamp_ns, h.body_hash, extra)


def _signed_header(keypair: Keypair, tag: bytes, synapse: str, receiver: str, nonce: int, uuid: str,
                   timestamp_ns: int, body_hash: bytes, extra: bytes = b"") -> bytes:
    """Sign the preimage of these fields and serialize them with the signature."""
    caller = keypair.ss58_address
    pre = _preimage_bytes(tag, PROTOCOL_VERSION, _utf8(synapse), _utf8(caller), _utf8(receiver), nonce,
                          uuid.encode(), timestamp_ns, body_hash, extra)
    return _header_bytes(PROTOCOL_VERSION, synapse, caller, receiver, nonce, uuid, timestamp_ns, body_hash,
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
    return struct.pack("<I", int(code)) + _digest(message.encode("utf-8"))


SS58_FORMAT = 42  # the chain's address format: the one spelling of a hotkey this protocol accepts


@lru_cache(maxsize=4096)
def _public_key(ss58: str) -> Optional[bytes]:
    """The 32-byte public key of a hotkey written in the chain's ss58 format (42), else None (cached).

    A key has exactly one accepted spelling: the same key re-encoded under another network prefix
    is refused, so nothing keyed by the caller (limits, nonces, allowances) multiplies by re-encoding."""
    try:
        pk = bytes.fromhex(ss58_decode(ss58, valid_ss58_format=SS58_FORMAT).removeprefix("0x"))
    except Exception:  # not an ss58 address, or one of another network
        return None
    return pk if len(pk) == 32 and ss58_encode(pk, SS58_FORMAT) == ss58 else None


def caller_key(ss58: str) -> Optional[bytes]:
    """The caller's identity for every per-caller decision: its public key, None unless `ss58` is the
    hotkey's canonical address (format SS58_FORMAT); such a request is refused, never re-keyed."""
    return _public_key(ss58)


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


def _digest(data: Any) -> bytes:
    """BLAKE3-256 of one bytes-like (the body hash of protocol v2)."""
    return blake3.blake3(data).digest()


def _body(body: Any, digest: Optional[bytes] = None) -> tuple[list, int, bytes]:
    """(buffers, total length, BLAKE3 hash) of a body given as one bytes-like or a list from body_parts().

    With `digest` (the hash the caller already computed for these bytes) nothing is hashed.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        n = body.nbytes if isinstance(body, memoryview) else len(body)
        return [body], n, _digest(body) if digest is None else digest
    parts = list(body)
    h = None if digest is not None else blake3.blake3()
    n = 0
    for p in parts:
        if h is not None:
            h.update(p)
        n += wire.view(p).nbytes
    return parts, n, digest if h is None else h.digest()


def body_hash(body: Any) -> bytes:
    """BLAKE3-256 of a body (bytes or a body_parts() list), to sign one shared body for many receivers."""
    return _body(body)[2]


def build_request(
    keypair: Keypair, *, synapse: str, receiver: str, body: Any, nonce: Optional[int] = None,
    now_ns: Optional[int] = None, uuid: Optional[str] = None, body_hash: Optional[bytes] = None,
) -> bytes:
    """Serialized, signed Request: exactly the bytes to send. body: bytes or a body_parts() list.

    body_hash: the body's BLAKE3 hash when already known (a fan-out hashes its shared body once,
    see body_hash()); receivers recompute it, so a wrong one only gets the request refused.
    """
    return b"".join(request_parts(keypair, synapse=synapse, receiver=receiver, body=body, nonce=nonce,
                                  now_ns=now_ns, uuid=uuid, body_hash=body_hash)[0])


def request_parts(
    keypair: Keypair, *, synapse: str, receiver: str, body: Any, nonce: Optional[int] = None,
    now_ns: Optional[int] = None, uuid: Optional[str] = None, body_hash: Optional[bytes] = None,
) -> tuple[list, int]:
    """build_request() as (buffers, total length), for a transport that frames them (protocol/stream.py)."""
    uuid = uuid or secrets.token_hex(16)
    for name, v in (("synapse", _utf8(synapse)), ("receiver", _utf8(receiver)), ("uuid", uuid.encode("utf-8"))):
        if len(v) > MAX_HEADER_STR:
            raise ValueError(f"{name} is longer than {MAX_HEADER_STR} bytes; receivers would refuse it")
    if body_hash is not None and (type(body_hash) is not bytes or len(body_hash) != 32):
        raise ValueError("body_hash must be the 32-byte BLAKE3 hash of the body (see body_hash())")
    parts, n, digest = _body(body, body_hash)
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
    if not h.signature or not h.caller or len(h.body_hash) != 32:
        return ReturnCode.UNAUTHENTICATED
    if h.receiver != receiver:
        return ReturnCode.WRONG_RECEIVER
    key = _public_key(h.caller)  # nonces are remembered per public key, not per spelling
    if key is None:
        return ReturnCode.UNAUTHENTICATED
    now_ns = time.time_ns() if now_ns is None else now_ns
    code = guard.precheck(key, h.nonce, h.timestamp_ns, now_ns)
    if code != ReturnCode.SUCCESS:
        return code
    if not _signature_ok(h.caller, _preimage(_REQUEST_TAG, h), h.signature):
        return ReturnCode.UNAUTHENTICATED
    if not hmac.compare_digest(_digest(req.body), h.body_hash):
        return ReturnCode.UNAUTHENTICATED
    return guard.check(key, h.nonce, h.timestamp_ns, now_ns)


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
        h is not None and len(h.signature) == 64 and len(h.body_hash) == 32
        and h.uuid == request_uuid and h.caller == expected_signer
        and _signature_ok(h.caller, _preimage(_RESPONSE_TAG, h, _response_extra(resp.code, resp.message)), h.signature)
        and hmac.compare_digest(_digest(resp.body), h.body_hash)
    )
    return ReturnCode.SUCCESS if ok else ReturnCode.INVALID_RESPONSE
