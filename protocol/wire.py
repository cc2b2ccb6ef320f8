"""Protobuf wire format by hand: varints, field keys and a bounds-checked field reader.

Writing messages by hand lets a payload be copied once into the outgoing buffer, and reading
them over a memoryview lets `bytes` fields be returned as views instead of copies. The
generated classes in schema_pb2.py parse and produce the same bytes (tested).
"""
from __future__ import annotations

from typing import Iterator, Union

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_U64 = 1 << 64

Buffer = Union[bytes, bytearray, memoryview]
Value = Union[int, memoryview]


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def varint(n: int) -> bytes:
    """Encode a uint64 (or an int64, two's complement) as a base-128 varint."""
    if 0 <= n < 0x80:
        return _ONE_BYTE[n]
    if 0 < n < 0x4000:  # two bytes: lengths up to 16 KiB, tensor dims
        return bytes((n & 0x7F | 0x80, n >> 7))
    if n < 0:
        n += _U64
    if not 0 <= n < _U64:
        raise OverflowError(f"{n} does not fit in 64 bits")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def len_prefix(field: int, length: int) -> bytes:
    """Key and length of a length-delimited field; the caller appends `length` bytes."""
    return key(field, LEN) + varint(length)


def bytes_field(field: int, value: Buffer) -> bytes:
    """A complete length-delimited field (for small values; payloads use len_prefix)."""
    return len_prefix(field, len(value)) + bytes(value)


def varint_field(field: int, value: int) -> bytes:
    """A varint field, omitted when zero (proto3 default)."""
    return key(field, VARINT) + varint(value) if value else b""


def view(data: Buffer) -> memoryview:
    """A flat byte view of any contiguous buffer, without copying."""
    mv = data if isinstance(data, memoryview) else memoryview(data)
    if mv.format != "B" or mv.ndim != 1:
        try:
            mv = mv.cast("B")
        except TypeError as e:
            raise WireError(f"buffer is not contiguous bytes: {e}") from None
    return mv


def read_varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    if pos < end and buf[pos] < 0x80:  # fast paths: one byte, two bytes
        return buf[pos], pos + 1
    if pos + 1 < end and buf[pos + 1] < 0x80:
        return buf[pos] & 0x7F | buf[pos + 1] << 7, pos + 2
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")
    if result >= _U64:
        raise WireError("varint exceeds 64 bits")
    return result, pos


def as_int64(v: int) -> int:
    return v - _U64 if v >= 1 << 63 else v


def as_str(v: Value, what: str, limit: int) -> str:
    if not isinstance(v, memoryview):
        raise WireError(f"{what}: expected a length-delimited field")
    if len(v) > limit:
        raise WireError(f"{what}: {len(v)} bytes exceeds the {limit}-byte limit")
    try:
        return str(v, "utf-8")
    except UnicodeDecodeError:
        raise WireError(f"{what}: not valid UTF-8") from None


def fields(buf: memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, Value]]:
    """Yield (field number, wire type, value) for each field in buf[start:end].

    VARINT, I64 and I32 values are ints; LEN values are memoryview slices of buf (no copy).
    Every length is checked against the end before it is used.
    """
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        k = buf[pos]  # one-byte keys and lengths (the common case) are read inline
        if k < 0x80:
            pos += 1
        else:
            k, pos = read_varint(buf, pos, end)
        field, wt = k >> 3, k & 7
        if field == 0:
            raise WireError("field number 0 is invalid")
        if wt == VARINT:
            if pos < end and buf[pos] < 0x80:  # one-byte values inline too
                v = buf[pos]
                pos += 1
            else:
                v, pos = read_varint(buf, pos, end)
        elif wt == LEN:
            if pos < end and buf[pos] < 0x80:
                n = buf[pos]
                pos += 1
            else:
                n, pos = read_varint(buf, pos, end)
            if n > end - pos:
                raise WireError(f"field {field}: length {n} runs past the end of the message")
            v = buf[pos : pos + n]
            pos += n
        elif wt in (I64, I32):
            n = 8 if wt == I64 else 4
            if n > end - pos:
                raise WireError(f"field {field}: truncated fixed-width value")
            v = int.from_bytes(buf[pos : pos + n], "little")
            pos += n
        else:
            raise WireError(f"field {field}: unsupported wire type {wt}")
        yield field, wt, v
