"""Frames: many signed calls on one gRPC stream (`rpc Stream(stream Frame) returns (stream Frame)`).

A unary gRPC call pays for a new HTTP/2 stream, its headers, a deadline timer and a status
every time; on one long-lived stream a call is one message each way, about half the transport
cost per call in Python. Each Frame carries one serialized Request (client → server) or
Response (server → client) and the id the client gave it, so answers may come in any order;
`timeout_ms` tells the server how long the caller waits. Written by hand like the envelopes:
the payload is copied once into the frame and read back as a view.

    data = encode_frame(7, request_bytes, timeout_ms=2000)      # or b"".join(frame_parts(...))
    fid, timeout_ms, payload = parse_frame(data)                # payload: memoryview of data
"""
from __future__ import annotations

from typing import Any

from protocol import wire

MAX_ID = (1 << 64) - 1
MAX_TIMEOUT_MS = (1 << 32) - 1


def frame_parts(fid: int, parts: list, length: int, timeout_ms: int = 0) -> list:
    """[frame head, *parts]: the Frame whose payload is the `length` bytes of `parts`."""
    if not 0 <= fid <= MAX_ID or not 0 <= timeout_ms <= MAX_TIMEOUT_MS:
        raise ValueError(f"frame id must fit in 64 bits and timeout_ms in 32 bits (got {fid}, {timeout_ms})")
    head = wire.varint_field(1, fid) + wire.varint_field(2, timeout_ms) + wire.len_prefix(3, length)
    return [head, *parts]


def encode_frame(fid: int, payload: Any, timeout_ms: int = 0) -> bytes:
    return b"".join(frame_parts(fid, [payload], wire.view(payload).nbytes, timeout_ms))


_KEYS = {0x08: 1, 0x10: 2, 0x1A: 3}  # the one-byte keys of id (varint), timeout_ms (varint), payload (bytes)


def parse_frame(data: Any) -> tuple[int, int, memoryview]:
    """(id, timeout_ms, payload view). Strict: fields 1..3 with their wire types, each at most once,
    each key in its one-byte (canonical) form. Raises wire.WireError.

    Read inline rather than with wire.fields: it runs twice per request (axon and dendrite).
    The payload's own limits are checked by whoever parses it.
    """
    mv = wire.view(data)
    end = len(mv)
    pos = fid = timeout_ms = seen = 0
    payload = mv[0:0]  # proto3 writers omit an empty payload
    while pos < end:
        f = _KEYS.get(mv[pos])
        if f is None or seen & (1 << f):
            raise wire.WireError(f"frame: unknown, repeated or mistyped field (key byte {mv[pos]:#04x})")
        seen |= 1 << f
        pos += 1
        if pos < end and mv[pos] < 0x80:
            v = mv[pos]
            pos += 1
        else:
            v, pos = wire.read_varint(mv, pos, end)
        if f == 3:
            if v > end - pos:
                raise wire.WireError(f"frame.payload: length {v} runs past the end of the frame")
            payload = mv[pos:pos + v]
            pos += v
        elif f == 1:
            fid = v
        elif v > MAX_TIMEOUT_MS:
            raise wire.WireError("frame.timeout_ms exceeds uint32")
        else:
            timeout_ms = v
    return fid, timeout_ms, payload
