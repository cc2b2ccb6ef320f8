"""Bytes that compressed request bodies inflate to, bounded per caller and over the whole axon.

A zstd/lz4 tensor of a few hundred bytes may declare (and inflate to) up to `max_request_bytes`.
The axon therefore inflates a body only once the request holds a handler slot, and only after
reserving its declared inflated size here: at most `per_caller` bytes for one caller's requests
at once and `total` bytes for all of them. The size is read from the tensors' headers (shape x
dtype) without inflating anything; uncompressed tensors are views of the received bytes and
cost nothing extra.
"""
from __future__ import annotations

from typing import Any

from protocol import tensor, wire
from protocol.codes import EnvelopeError, ReturnCode


def inflated_size(body: Any) -> int:
    """Bytes the compressed tensors of a serialized Body declare they inflate to (0: none compressed).

    Raises EnvelopeError(INVALID_REQUEST) for a body whose structure cannot be walked."""
    total = 0
    try:
        for f, _wt, entry in wire.fields(wire.view(body)):
            if f != 1 or not isinstance(entry, memoryview):
                continue  # string fields; their own checks are decode_body's
            for g, _wt2, raw in wire.fields(entry):
                if g != 2 or not isinstance(raw, memoryview):
                    continue
                dtype, shape, comp, _raw, _payload = tensor._read_fields(raw)
                if comp == 0:
                    continue
                n = tensor._NP[tensor.DType(dtype)].itemsize
                for d in shape:
                    n *= max(d, 0)
                total += n
    except (wire.WireError, tensor.TensorDecodeError, ValueError, KeyError) as e:
        raise EnvelopeError(ReturnCode.INVALID_REQUEST, f"malformed body: {e}") from None
    return total


class InflateBudget:
    """Inflated bytes reserved now, per caller key and in total (one event loop, no locks)."""

    def __init__(self, per_caller: int, total: int):
        if per_caller < 1 or total < 1:
            raise ValueError("per_caller and total must be >= 1")
        self.per_caller, self.total = per_caller, total
        self.used = 0
        self._by_key: dict[bytes, int] = {}

    def take(self, key: bytes, n: int) -> tuple[ReturnCode, str]:
        """Reserve n bytes for `key`: (SUCCESS, "") or the refusal's (code, message); nothing is kept on refusal."""
        if n <= 0:
            return ReturnCode.SUCCESS, ""
        mine = self._by_key.get(key, 0)
        if n > self.per_caller:
            return ReturnCode.PAYLOAD_TOO_LARGE, f"body inflates to {n} bytes, over the {self.per_caller}-byte limit"
        if mine + n > self.per_caller:
            return ReturnCode.RATE_LIMITED, (f"this caller's bodies inflating now hold {mine} bytes; "
                                             f"{n} more exceeds {self.per_caller}")
        if self.used + n > self.total:
            return ReturnCode.OVERLOADED, f"inflated bodies in flight hold {self.used} of {self.total} bytes"
        self._by_key[key] = mine + n
        self.used += n
        return ReturnCode.SUCCESS, ""

    def give(self, key: bytes, n: int) -> None:
        if n <= 0:
            return
        self.used -= n
        left = self._by_key.get(key, 0) - n
        if left > 0:
            self._by_key[key] = left
        else:  # entries vanish at zero: the table holds only callers with bodies in flight
            self._by_key.pop(key, None)

    def __len__(self) -> int:
        return len(self._by_key)
