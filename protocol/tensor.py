"""Tensor codec: numpy arrays and torch tensors to and from the `Tensor` protobuf message.

    data = encode(x, compression=None)      # x: numpy array or torch tensor, any layout
    t = decode(data, max_bytes=1 << 26)     # torch.Tensor, a view of `data` when uncompressed
    a = decode_numpy(data)                  # numpy.ndarray, a view of `data` when uncompressed

Wire format: see `message Tensor` in schema.proto; written by hand so the payload is copied once
(into the returned bytes) and read back without a copy.

Decisions:
- bf16: `decode` returns torch.bfloat16. numpy has no bfloat16, so `decode_numpy` raises
  TensorDecodeError unless `bf16_as_float32=True`, which widens exactly (a copy).
- Zero-copy: an uncompressed result aliases the received buffer. numpy marks it read-only when the
  buffer is `bytes`. torch has no read-only tensors: the tensor is nominally writable, and writing
  into it would mutate the `bytes` object, so call `.clone()` before in-place ops (or pass a
  bytearray). torch warns about this once per process; that one warning is consumed at import.
- compression="zstd"|"lz4" is a request: if it does not shrink the payload, the tensor is sent
  uncompressed (the flag on the wire says which).
- `max_bytes=None` means DEFAULT_MAX_BYTES (2 GiB - 1, the gRPC message ceiling). The limit applies
  to the payload on the wire and to the decompressed size; both are checked before allocating,
  and decompression is capped at the declared size, so a zstd/lz4 bomb is refused, not inflated.
- NaN/Inf pass unless `allow_nonfinite=False`.
- Little-endian hosts only (every machine torch supports today).
"""
from __future__ import annotations

import enum
import sys
import warnings
from typing import Any, Union

import lz4.block
import numpy as np
import torch
import zstandard

from protocol import wire

if sys.byteorder != "little":  # pragma: no cover
    raise ImportError("protocol.tensor supports little-endian hosts only")

MAX_RANK = 8
DEFAULT_MAX_BYTES = (1 << 31) - 1
_MAX_FIELDS = 64  # a Tensor has 5 fields (shape may be unpacked: <= 8 more); bound the parse loop
_ZSTD_LEVEL = 1


class DType(enum.IntEnum):
    """Mirrors `enum DType` in schema.proto."""

    BOOL = 1
    U8 = 2
    I8 = 3
    I16 = 4
    I32 = 5
    I64 = 6
    F16 = 7
    BF16 = 8
    F32 = 9
    F64 = 10


class Compression(enum.IntEnum):
    """Mirrors `enum Compression` in schema.proto."""

    NONE = 0
    ZSTD = 1
    LZ4 = 2


class TensorDecodeError(ValueError):
    """The bytes are not a valid Tensor message (or break the decoder's limits/policy)."""


class TensorTooLargeError(TensorDecodeError):
    """The payload or its decompressed size exceeds max_bytes."""


# numpy storage dtype per wire dtype (bf16 travels as its raw 16 bits)
_NP = {
    DType.BOOL: np.dtype(np.bool_), DType.U8: np.dtype("u1"), DType.I8: np.dtype("i1"),
    DType.I16: np.dtype("<i2"), DType.I32: np.dtype("<i4"), DType.I64: np.dtype("<i8"),
    DType.F16: np.dtype("<f2"), DType.BF16: np.dtype("<u2"), DType.F32: np.dtype("<f4"),
    DType.F64: np.dtype("<f8"),
}
_TORCH = {
    DType.BOOL: torch.bool, DType.U8: torch.uint8, DType.I8: torch.int8, DType.I16: torch.int16,
    DType.I32: torch.int32, DType.I64: torch.int64, DType.F16: torch.float16,
    DType.BF16: torch.bfloat16, DType.F32: torch.float32, DType.F64: torch.float64,
}
_FROM_TORCH = {v: k for k, v in _TORCH.items()}
_FROM_NP = {(d.kind, d.itemsize): k for k, d in _NP.items() if k != DType.BF16}
_FLOATS = (DType.F16, DType.BF16, DType.F32, DType.F64)
_DTYPES, _COMPRESSIONS = dict(DType._value2member_map_), dict(Compression._value2member_map_)  # wire value -> member

with warnings.catch_warnings():  # torch warns once per process about read-only buffers; take it now
    warnings.simplefilter("ignore")
    torch.frombuffer(b"\0", dtype=torch.uint8)

def _as_compression(c: Any) -> Compression:
    if c is None:
        return Compression.NONE
    if isinstance(c, str):
        try:
            return Compression[c.upper()]
        except KeyError:
            raise ValueError(f"unknown compression {c!r}; use None, 'zstd' or 'lz4'") from None
    return Compression(c)


def _prepare(x: Any) -> tuple[DType, tuple[int, ...], np.ndarray]:
    """(wire dtype, shape, C-contiguous little-endian numpy array holding the raw elements)."""
    if isinstance(x, torch.Tensor):
        dtype = _FROM_TORCH.get(x.dtype)
        if dtype is None:
            raise TypeError(f"cannot encode torch dtype {x.dtype}; supported: {sorted(str(t) for t in _FROM_TORCH)}")
        t = x.detach().cpu().contiguous()
        arr = t.view(torch.int16).numpy() if dtype == DType.BF16 else t.numpy()
        return dtype, tuple(t.shape), arr
    arr = np.asarray(x)
    dtype = _FROM_NP.get((arr.dtype.kind, arr.dtype.itemsize))
    if dtype is None:
        if arr.dtype.name != "bfloat16" or arr.dtype.itemsize != 2:  # ml_dtypes.bfloat16 is accepted
            raise TypeError(f"cannot encode numpy dtype {arr.dtype}; supported: bool, u8, i8..i64, f16, f32, f64")
        dtype, arr = DType.BF16, arr.view(np.uint16)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return dtype, arr.shape, arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _compress(payload: memoryview, c: Compression) -> bytes:
    if c == Compression.ZSTD:
        return zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True).compress(payload)
    return lz4.block.compress(payload, store_size=False)


def frame(x: Any, *, compression: Any = None) -> tuple[bytes, Union[memoryview, bytes]]:
    """(head, payload) with head + payload == encode(x); payload is a view of x when uncompressed."""
    dtype, shape, arr = _prepare(x)
    payload: Union[memoryview, bytes] = memoryview(arr.reshape(-1).view(np.uint8))
    raw = len(payload)
    comp = _as_compression(compression)
    if comp != Compression.NONE:
        packed = _compress(payload, comp) if raw else b""
        if len(packed) < raw:
            payload = packed
        else:  # compression would not shrink it (or nothing to compress): send it plain
            comp = Compression.NONE
    head = [b"\x08", wire.varint(dtype)]  # field 1 (dtype), varint
    if shape:
        dims = b"".join([wire.varint(d) for d in shape])
        head += [b"\x12", wire.varint(len(dims)), dims]  # field 2 (shape), packed
    if comp:
        head += [b"\x18", wire.varint(comp)]  # field 3 (compression)
    if raw:
        head += [b"\x20", wire.varint(raw), b"\x2a", wire.varint(len(payload))]  # fields 4 (raw_size), 5 (data)
    return b"".join(head), payload


def encode(x: Any, *, compression: Any = None) -> bytes:
    """Serialize a numpy array or torch tensor as a `Tensor` message (one copy of the payload)."""
    return b"".join(frame(x, compression=compression))


class TensorView:
    """A validated tensor: dtype, shape and the raw little-endian payload (a buffer view)."""

    __slots__ = ("dtype", "shape", "payload")

    def __init__(self, dtype: DType, shape: tuple[int, ...], payload: Union[memoryview, bytes]):
        self.dtype, self.shape, self.payload = dtype, shape, payload

    def __repr__(self) -> str:
        return f"TensorView({self.dtype.name}, shape={list(self.shape)}, {len(self.payload)} bytes)"

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def torch(self, *, allow_nonfinite: bool = True) -> torch.Tensor:
        n, tdtype = self.numel, _TORCH[self.dtype]
        if n == 0:
            return torch.empty(self.shape, dtype=tdtype)
        t = torch.frombuffer(self.payload, dtype=tdtype, count=n)
        if len(self.shape) != 1:
            t = t.view(self.shape)
        if not allow_nonfinite and self.dtype in _FLOATS and not bool(torch.isfinite(t).all()):
            raise TensorDecodeError("tensor contains NaN or Inf and the policy forbids it")
        return t

    def numpy(self, *, allow_nonfinite: bool = True, bf16_as_float32: bool = False) -> np.ndarray:
        a = np.frombuffer(self.payload, dtype=_NP[self.dtype], count=self.numel)
        if self.dtype == DType.BF16:
            if not bf16_as_float32:
                raise TensorDecodeError(
                    "bf16 tensor has no numpy dtype: use decode() for torch.bfloat16, "
                    "or pass bf16_as_float32=True to widen it to float32"
                )
            a = (a.astype(np.uint32) << 16).view(np.float32)
        a = a.reshape(self.shape)
        if not allow_nonfinite and self.dtype in _FLOATS and not bool(np.isfinite(a).all()):
            raise TensorDecodeError("tensor contains NaN or Inf and the policy forbids it")
        return a


def _decompress(payload: memoryview, c: Compression, nbytes: int) -> bytes:
    if nbytes == 0:
        raise TensorDecodeError("compressed payload for a tensor with no elements")
    if c == Compression.ZSTD:
        try:
            declared = zstandard.get_frame_parameters(payload).content_size
        except zstandard.ZstdError as e:
            raise TensorDecodeError(f"zstd: bad frame header: {e}") from None
        if declared not in (nbytes, zstandard.CONTENTSIZE_UNKNOWN):
            raise TensorDecodeError(f"zstd frame declares {declared} bytes, tensor needs {nbytes}")
        try:
            out = zstandard.ZstdDecompressor().decompress(payload, max_output_size=nbytes, allow_extra_data=False)
        except zstandard.ZstdError as e:
            raise TensorDecodeError(f"zstd: {e}") from None
    elif c == Compression.LZ4:
        try:
            out = lz4.block.decompress(payload, uncompressed_size=nbytes)
        except (lz4.block.LZ4BlockError, ValueError) as e:
            raise TensorDecodeError(f"lz4: {e}") from None
    else:
        raise TensorDecodeError(f"unknown compression {int(c)}")
    if len(out) != nbytes:
        raise TensorDecodeError(f"decompressed to {len(out)} bytes, tensor needs {nbytes}")
    return out


def _read_fields(mv: memoryview) -> tuple[int, list[int], int, int | None, memoryview]:
    dtype = comp = 0
    raw: int | None = None
    shape: list[int] = []
    payload = mv[0:0]
    for i, (f, wt, v) in enumerate(wire.fields(mv)):
        if i >= _MAX_FIELDS:
            raise TensorDecodeError(f"more than {_MAX_FIELDS} fields")
        if f == 2 and wt == wire.LEN:
            pos = 0
            while pos < len(v):
                if len(shape) > MAX_RANK:
                    break
                d, pos = wire.read_varint(v, pos, len(v))
                shape.append(wire.as_int64(d))
        elif f == 2 and wt == wire.VARINT:
            shape.append(wire.as_int64(v))
        elif f in (1, 3, 4):
            if wt != wire.VARINT:
                raise TensorDecodeError(f"field {f}: expected a varint")
            if f == 1:
                dtype = v
            elif f == 3:
                comp = v
            else:
                raw = v
        elif f == 5:
            if wt != wire.LEN:
                raise TensorDecodeError("field 5 (data): expected bytes")
            payload = v
        elif f == 2:
            raise TensorDecodeError("field 2 (shape): bad wire type")
        if len(shape) > MAX_RANK:
            raise TensorDecodeError(f"rank above {MAX_RANK}")
    return dtype, shape, comp, raw, payload


def parse(data: Any, *, max_bytes: int | None = None) -> TensorView:
    """Validate a serialized Tensor and return a view of it (decompressing if needed)."""
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    try:
        mv = wire.view(data)
        dtype, shape, comp, raw, payload = _read_fields(mv)
    except wire.WireError as e:
        raise TensorDecodeError(f"malformed Tensor: {e}") from None
    dtype, comp = _DTYPES.get(dtype, dtype), _COMPRESSIONS.get(comp, comp)
    if type(dtype) is not DType:
        raise TensorDecodeError("missing dtype" if dtype == 0 else f"unknown dtype {dtype}")
    if type(comp) is not Compression:
        raise TensorDecodeError(f"unknown compression {comp}")
    nbytes = _NP[dtype].itemsize
    span = 4 if dtype == DType.BF16 else nbytes  # bytes per element as decoded (bf16 may widen to float32)
    for d in shape:
        if d < 0:
            raise TensorDecodeError(f"negative dimension in shape {shape}")
        nbytes *= d
        span *= max(d, 1)  # strides skip empty dims: (0, 2**62, 4) is empty, yet its strides overflow
        if span >= 1 << 63:
            raise TensorDecodeError(f"size of shape {shape} overflows 64 bits")
    if len(payload) > limit or nbytes > limit:
        raise TensorTooLargeError(
            f"tensor of {max(nbytes, len(payload))} bytes exceeds max_bytes={limit}; raise the limit if this is expected"
        )
    if raw is not None and raw != nbytes:
        raise TensorDecodeError(f"raw_size {raw} does not match shape {shape} x {dtype.name} = {nbytes} bytes")
    if comp == Compression.NONE:
        if len(payload) != nbytes:
            raise TensorDecodeError(f"payload is {len(payload)} bytes, shape {shape} x {dtype.name} needs {nbytes}")
        body: Union[memoryview, bytes] = payload
    else:
        body = _decompress(payload, comp, nbytes)
    if dtype == DType.BOOL and nbytes and np.frombuffer(body, np.uint8).max() > 1:
        raise TensorDecodeError("bool tensor holds bytes other than 0 and 1")
    return TensorView(dtype, tuple(shape), body)


def decode(data: Any, *, max_bytes: int | None = None, allow_nonfinite: bool = True) -> torch.Tensor:
    """Deserialize to a torch.Tensor (a view of `data` unless compressed). Raises TensorDecodeError."""
    return parse(data, max_bytes=max_bytes).torch(allow_nonfinite=allow_nonfinite)


def decode_numpy(
    data: Any, *, max_bytes: int | None = None, allow_nonfinite: bool = True, bf16_as_float32: bool = False
) -> np.ndarray:
    """Deserialize to a numpy array (a view of `data` unless compressed). Raises TensorDecodeError."""
    return parse(data, max_bytes=max_bytes).numpy(allow_nonfinite=allow_nonfinite, bf16_as_float32=bf16_as_float32)
