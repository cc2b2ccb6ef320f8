"""Message bodies: named tensors plus small string fields (`message Body` in schema.proto).

    data = encode_body({"logits": x, "ids": ids}, {"model": "minilm"})   # or body_parts(...), see below
    body = decode_body(data, max_bytes=1 << 26)
    body.tensors["logits"]          # torch.Tensor viewing `data` (zero-copy when uncompressed)
    body.numpy()["ids"]             # numpy view; bf16 needs bf16_as_float32=True
    body.fields["model"]

Each tensor payload is copied once, straight into the returned bytes. decode_body raises only
EnvelopeError, with code PAYLOAD_TOO_LARGE or INVALID_REQUEST (clients report INVALID_RESPONSE).
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Mapping

import numpy as np
import torch

from protocol import tensor, wire
from protocol.codes import EnvelopeError, ReturnCode

MAX_ENTRIES = 4096      # tensors + string fields in one body
MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 1 << 16


class Body:
    """A decoded body: validated tensor views and string fields."""

    def __init__(self, views: dict[str, tensor.TensorView], fields: dict[str, str]):
        self.views = views
        self.fields = fields

    @cached_property
    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: v.torch() for k, v in self.views.items()}

    def numpy(self, *, bf16_as_float32: bool = False) -> dict[str, np.ndarray]:
        return {k: v.numpy(bf16_as_float32=bf16_as_float32) for k, v in self.views.items()}

    def __repr__(self) -> str:
        shapes = {k: f"{v.dtype.name}{list(v.shape)}" for k, v in self.views.items()}
        return f"Body(tensors={shapes}, fields={self.fields})"


def _str_bytes(s: Any, what: str, limit: int) -> bytes:
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str, got {type(s).__name__}")
    b = s.encode("utf-8")
    if len(b) > limit:
        raise ValueError(f"{what} is {len(b)} bytes; the limit is {limit}")
    return b


def encode_body(tensors: Mapping[str, Any], fields: Mapping[str, str] | None = None, *, compression: Any = None) -> bytes:
    """Serialize a Body. Tensor values: numpy arrays, torch tensors, or bytes from tensor.encode()."""
    return b"".join(body_parts(tensors, fields, compression=compression))


def body_parts(tensors: Mapping[str, Any], fields: Mapping[str, str] | None = None, *, compression: Any = None) -> list:
    """encode_body() as a list of buffers (tensor payloads are views, not copies).

    build_request/build_response accept this list as `body` and copy each payload exactly once,
    straight into the message they return.
    """
    fields = fields or {}
    if len(tensors) + len(fields) > MAX_ENTRIES:
        raise ValueError(f"a body holds at most {MAX_ENTRIES} tensors and fields")
    pieces: list[Any] = []
    for name, x in tensors.items():
        if isinstance(x, (bytes, bytearray, memoryview)):
            head, payload = b"", x  # already a serialized Tensor
        else:
            head, payload = tensor.frame(x, compression=compression)
        size = len(head) + wire.view(payload).nbytes
        inner = wire.bytes_field(1, _str_bytes(name, "tensor name", MAX_KEY_BYTES)) + wire.len_prefix(2, size)
        pieces += [wire.len_prefix(1, len(inner) + size), inner, head, payload]
    for k, v in fields.items():
        inner = wire.bytes_field(1, _str_bytes(k, "field name", MAX_KEY_BYTES))
        inner += wire.bytes_field(2, _str_bytes(v, f"field {k!r}", MAX_VALUE_BYTES))
        pieces += [wire.len_prefix(2, len(inner)), inner]
    return pieces


def _entry(v: wire.Value, what: str, limit: int) -> tuple[str, memoryview]:
    """(key, value bytes) of one map entry."""
    if not isinstance(v, memoryview):
        raise wire.WireError(f"{what}: expected a map entry")
    key, value = "", v[0:0]
    for f, wt, x in wire.fields(v):
        if f == 1:
            key = wire.as_str(x, f"{what} name", MAX_KEY_BYTES)
        elif f == 2:
            if not isinstance(x, memoryview) or len(x) > limit:
                raise wire.WireError(f"{what} {key!r}: bad or oversized value")
            value = x
    return key, value


def decode_body(data: Any, *, max_bytes: int | None = None) -> Body:
    """Parse and validate a Body; all tensors together may decompress to at most max_bytes."""
    limit = tensor.DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    try:
        mv = wire.view(data)
    except wire.WireError as e:
        raise EnvelopeError(ReturnCode.INVALID_REQUEST, str(e)) from None
    if len(mv) > limit:
        raise EnvelopeError(ReturnCode.PAYLOAD_TOO_LARGE, f"body of {len(mv)} bytes exceeds max_bytes={limit}")
    views: dict[str, tensor.TensorView] = {}
    fields: dict[str, str] = {}
    budget = limit
    try:
        for i, (f, _wt, v) in enumerate(wire.fields(mv)):
            if i >= MAX_ENTRIES:
                raise wire.WireError(f"more than {MAX_ENTRIES} entries")
            if f == 1:
                name, raw = _entry(v, "tensor", limit)
                views[name] = tv = tensor.parse(raw, max_bytes=budget)
                budget -= len(tv.payload)  # payload: uncompressed bytes of this tensor
            elif f == 2:
                k, raw = _entry(v, "field", MAX_VALUE_BYTES)
                fields[k] = wire.as_str(raw, f"field {k!r}", MAX_VALUE_BYTES)
    except tensor.TensorTooLargeError as e:
        raise EnvelopeError(ReturnCode.PAYLOAD_TOO_LARGE, f"body tensors exceed max_bytes={limit}: {e}") from None
    except (wire.WireError, tensor.TensorDecodeError) as e:
        raise EnvelopeError(ReturnCode.INVALID_REQUEST, f"malformed body: {e}") from None
    return Body(views, fields)
