"""Tensor codec: round trips, zero-copy, validation before allocation, compression bombs."""
import warnings

import numpy as np
import pytest
import torch
import zstandard
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from protocol import wire
from protocol.tensor import (
    TensorDecodeError, TensorTooLargeError, decode, decode_numpy, encode, frame,
)

TORCH_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                torch.float16, torch.bfloat16, torch.float32, torch.float64]
NUMPY_DTYPES = ["?", "u1", "i1", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8"]
SHAPES = [(), (0,), (3, 0, 2), (7,), (2, 3, 4), (1,) * 8]


def _payload_view(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.uint8)


def _torch_sample(dtype, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g) * 100).to(dtype)
    info = torch.iinfo(dtype)
    return torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(dtype)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_torch_round_trip_every_dtype_and_shape(dtype, shape):
    x = _torch_sample(dtype, shape)
    y = decode(encode(x))
    assert y.dtype == dtype and y.shape == x.shape and torch.equal(y, x)


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_numpy_round_trip_every_dtype_and_shape(dtype, shape):
    x = (np.arange(int(np.prod(shape)), dtype=np.int64) % 3).astype(dtype).reshape(shape)
    y = decode_numpy(encode(x))
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape and np.array_equal(y, x)


def test_non_contiguous_and_big_endian_inputs():
    base = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    for x in (base[:, ::2, 1:], base.transpose(2, 0, 1), base[::-1], base.astype(">f4")):
        assert np.array_equal(decode_numpy(encode(x)), x)
    t = torch.arange(60.0).reshape(3, 4, 5)
    for x in (t.transpose(0, 2), t[:, 1::2], t.expand(2, 3, 4, 5), torch.randn(3, requires_grad=True)):
        assert torch.equal(decode(encode(x)), x.detach())


def test_large_tensor_round_trip_and_zero_copy():
    x = np.random.default_rng(0).standard_normal(4 << 20, dtype=np.float32).reshape(1024, -1)  # 16 MiB
    data = encode(x)
    a, t = decode_numpy(data), decode(data)
    assert np.array_equal(a, x) and np.array_equal(t.numpy(), x)
    buf = _payload_view(data)
    assert np.shares_memory(a, buf)
    lo = buf.ctypes.data
    assert lo <= t.data_ptr() and t.data_ptr() + t.numel() * 4 <= lo + len(data)
    assert not a.flags.writeable  # a view of immutable bytes


def test_zero_copy_on_writable_buffers_and_unaligned_offsets():
    x = torch.arange(10, dtype=torch.float64)
    data = bytearray(encode(x))
    t = decode(data)
    t[0] = 42.0  # the view writes through to the buffer it came from
    assert decode(data)[0] == 42.0
    mv = memoryview(b"\x01" + bytes(data))[1:]  # odd address
    assert torch.equal(decode(mv).sum(), t.sum()) and float((decode(mv) @ decode(mv))) == float(t @ t)


def test_decode_emits_no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decode(encode(np.ones(4, np.float32)))
        decode(encode(np.ones(4, np.float32), compression="zstd"))


def test_bf16_numpy_policy():
    x = torch.tensor([1.5, -2.0, float("inf")], dtype=torch.bfloat16)
    data = encode(x)
    with pytest.raises(TensorDecodeError, match="bf16_as_float32"):
        decode_numpy(data)
    assert np.array_equal(decode_numpy(data, bf16_as_float32=True), x.float().numpy())


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_compression_round_trip(compression):
    x = torch.zeros(1 << 16, dtype=torch.float32)
    x[::7] = 3.0
    data = encode(x, compression=compression)
    assert len(data) < x.numel() * 4 // 4
    assert torch.equal(decode(data), x)
    incompressible = torch.randint(0, 256, (4000,), dtype=torch.uint8)
    plain = encode(incompressible)
    assert encode(incompressible, compression=compression) == plain  # falls back to uncompressed


def test_nonfinite_policy():
    x = np.array([1.0, np.nan], np.float32)
    data = encode(x)
    assert np.isnan(decode_numpy(data)[1])
    for fn in (decode, decode_numpy):
        with pytest.raises(TensorDecodeError, match="NaN or Inf"):
            fn(data, allow_nonfinite=False)
    assert decode(encode(np.ones(3)), allow_nonfinite=False).sum() == 3


def test_unsupported_inputs_raise_type_error():
    for x in (np.zeros(2, np.complex64), np.zeros(2, np.uint32), torch.zeros(2, dtype=torch.complex64)):
        with pytest.raises(TypeError):
            encode(x)
    with pytest.raises(ValueError, match="unknown compression"):
        encode(np.zeros(2), compression="gzip")


def _msg(dtype=9, shape=(2,), data=b"\0" * 8, comp=0, raw=None, extra=b""):
    """A hand-built Tensor message with arbitrary (possibly invalid) field values."""
    dims = b"".join(wire.varint(d) for d in shape)
    out = wire.key(1, 0) + wire.varint(dtype)
    out += wire.len_prefix(2, len(dims)) + dims if shape else b""
    out += wire.key(3, 0) + wire.varint(comp)
    out += wire.key(4, 0) + wire.varint(raw) if raw is not None else b""
    return out + extra + wire.len_prefix(5, len(data)) + data


@pytest.mark.parametrize("msg, match", [
    (_msg(), None),
    (_msg(dtype=0), "missing dtype"),
    (_msg(dtype=77), "unknown dtype"),
    (_msg(shape=(-2,)), "negative dimension"),
    (_msg(shape=(1,) * 9, data=b"\0" * 4), "rank above 8"),
    (_msg(shape=(3,)), "payload is 8 bytes"),
    (_msg(shape=(1 << 62, 1 << 62), data=b""), "overflows"),
    (_msg(raw=12), "raw_size 12"),
    (_msg(comp=9), "unknown compression"),
    (_msg(dtype=1, shape=(2,), data=b"\x01\x07"), "bool tensor"),
    (_msg()[:-1], "runs past the end"),
    (_msg(extra=b"\x0b"), "wire type"),
    (b"\xff" * 11, "varint"),
])
def test_malformed_tensors_raise_typed_errors(msg, match):
    if match is None:
        assert decode(msg).tolist() == [0.0, 0.0]
        return
    with pytest.raises(TensorDecodeError, match=match):
        decode(msg)


@pytest.mark.parametrize("shape, dtype", [((0, 1 << 62, 4), 9), ((0, 1 << 40, 1 << 40), 9), ((3, 0, 1 << 59), 10),
                                          ((1 << 61, 0, 0, 0), 8)])  # 8: bf16, widened to 4 bytes by numpy
def test_empty_tensors_with_overflowing_strides_are_refused(shape, dtype):
    """Regression (found by tests/fuzz): an empty shape whose other dims overflow int64 strides used to
    pass validation and raise RuntimeError (torch) / ValueError (numpy) when materialised."""
    msg = _msg(dtype=dtype, shape=shape, data=b"")
    for fn in (decode, lambda m: decode_numpy(m, bf16_as_float32=True)):
        with pytest.raises(TensorDecodeError, match="overflows"):
            fn(msg)
    assert decode(_msg(dtype=10, shape=(0, 1 << 58, 2), data=b"")).shape == (0, 1 << 58, 2)  # wide but fine


def test_max_bytes_checked_before_allocation():
    data = encode(np.zeros(1000, np.float32))
    assert decode(data, max_bytes=4000).numel() == 1000
    with pytest.raises(TensorTooLargeError):
        decode(data, max_bytes=3999)
    huge = _msg(shape=(1 << 40,), data=b"")  # claims 4 TiB, carries nothing
    with pytest.raises(TensorTooLargeError):
        decode(huge)


def test_zstd_bomb_refused_before_inflating():
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\0" * (64 << 20))  # 64 MiB of zeros, ~2 KiB
    honest = _msg(dtype=2, shape=(64 << 20,), data=bomb, comp=1, raw=64 << 20)
    with pytest.raises(TensorTooLargeError):
        decode(honest, max_bytes=1 << 20)
    liar = _msg(dtype=2, shape=(16,), data=bomb, comp=1, raw=16)  # small shape, big frame
    with pytest.raises(TensorDecodeError, match="declares"):
        decode(liar)
    no_size = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    stream = no_size.compress(b"\0" * (8 << 20)) + no_size.flush()
    with pytest.raises(TensorDecodeError, match="zstd"):
        decode(_msg(dtype=2, shape=(16,), data=stream, comp=1))  # capped at 16 bytes of output


def test_lz4_bomb_refused():
    import lz4.block

    bomb = lz4.block.compress(b"\0" * (8 << 20), store_size=False)
    with pytest.raises(TensorDecodeError, match="lz4"):
        decode(_msg(dtype=2, shape=(16,), data=bomb, comp=2))
    with pytest.raises(TensorDecodeError, match="no elements"):
        decode(_msg(dtype=2, shape=(0,), data=bomb, comp=2))


def test_frame_payload_is_a_view_of_the_input():
    x = np.arange(100, dtype=np.int32)
    head, payload = frame(x)
    assert np.shares_memory(np.frombuffer(payload, np.uint8), x)
    assert head + bytes(payload) == encode(x)


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(
    dtype=st.sampled_from([np.dtype(d) for d in NUMPY_DTYPES]),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
    elements=None,
), st.sampled_from([None, "zstd", "lz4"]))
def test_property_numpy_round_trip(x, compression):
    y = decode_numpy(encode(x, compression=compression))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.tobytes() == np.ascontiguousarray(x).tobytes()  # bitwise, NaN payloads included


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(TORCH_DTYPES), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
       st.integers(0, 2**31 - 1))
def test_property_torch_round_trip(dtype, shape, seed):
    x = _torch_sample(dtype, shape, seed)
    y = decode(encode(x))
    assert y.dtype == x.dtype and y.shape == x.shape and torch.equal(y, x)
