"""Fuzz targets: one per parser that sees untrusted bytes, shared by the atheris and the seeded-random engines.

A target takes bytes and returns normally when the parser accepted them or refused them with its
documented typed error; anything else escaping (another exception, a failed assertion, MemoryError
under the driver's memory cap) is a finding. Every target decodes under LIMIT and checks that what
it got back stays under it. `seeds(name)` builds valid messages to start mutating from.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import torch
from substrateinterface import Keypair

from neurons.config import ConfigError, NeuronConfig, render_toml
from neurons.config.loader import build_config, parse_toml
from neurons.wallet import keyfile
from neurons.wallet.errors import KeyfileError
from protocol import stream, tensor, wire
from protocol.codes import EnvelopeError, ReturnCode
from protocol.envelope import (build_request, build_response, decode_body, encode_body, parse_request,
                               parse_response, verify_request, verify_response)
from protocol.replay import ReplayGuard

LIMIT = 1 << 20           # max_bytes every decoder runs under
NOW_NS = 1_700_000_000 * 10**9  # the clock of every signed seed and of every verify
PASSWORD = "pw"
CHEAP_KDF_BYTES = 4 << 20  # unlock only files whose scrypt needs <= 4 MiB (parse caps the rest at 256 MiB)
CLIENT, MINER = Keypair.create_from_uri("//FuzzClient"), Keypair.create_from_uri("//FuzzMiner")
REQUEST_UUID = str(uuid.UUID(int=7))
GUARD = ReplayGuard(window_s=60, max_entries=64)  # one real guard for the whole run: it must stay bounded


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


def _check_tensor(t, limit: int = LIMIT) -> None:
    assert t.ndim <= tensor.MAX_RANK, t.shape
    nbytes = t.nbytes if isinstance(t, np.ndarray) else t.numel() * t.element_size()
    assert nbytes <= limit, f"decoded {nbytes} bytes under max_bytes={limit}"


def fuzz_tensor(data: bytes) -> None:
    try:
        view = tensor.parse(data, max_bytes=LIMIT)
    except tensor.TensorDecodeError:
        view = None
    for decode, kw, limit in ((tensor.decode, {}, LIMIT),
                              (tensor.decode_numpy, dict(bf16_as_float32=True, allow_nonfinite=False), 2 * LIMIT)):
        try:
            _check_tensor(decode(data, max_bytes=LIMIT, **kw), limit)  # bf16 widens to float32: 2x
        except tensor.TensorDecodeError:
            continue
        assert view is not None, "decode accepted what parse refused"
    if view is not None:  # what was accepted re-encodes to the same dtype, shape and payload
        again = tensor.parse(tensor.encode(view.torch()))
        assert (again.dtype, again.shape, bytes(again.payload)) == (view.dtype, view.shape, bytes(view.payload))


def fuzz_body(data: bytes) -> None:
    try:
        body = decode_body(data, max_bytes=LIMIT)
    except EnvelopeError as e:
        assert e.code in (ReturnCode.PAYLOAD_TOO_LARGE, ReturnCode.INVALID_REQUEST), e.code
        return
    assert sum(len(v.payload) for v in body.views.values()) <= LIMIT
    for t in body.tensors.values():
        _check_tensor(t)
    body.numpy(bf16_as_float32=True)
    repr(body)


@lru_cache(maxsize=None)
def _request_seeds() -> tuple[bytes, ...]:
    return tuple(build_request(CLIENT, synapse=s, receiver=MINER.ss58_address, body=b, now_ns=NOW_NS, nonce=n)
                 for n, (s, b) in enumerate([("forward", x) for x in _body_seeds()] + [("ping", b"")]))


def fuzz_request(data: bytes) -> None:
    try:
        req = parse_request(data, max_bytes=LIMIT)
    except EnvelopeError as e:
        assert e.code in (ReturnCode.INVALID_REQUEST, ReturnCode.PAYLOAD_TOO_LARGE, ReturnCode.VERSION_MISMATCH), e.code
        return
    code = verify_request(req, receiver=MINER.ss58_address, guard=GUARD, now_ns=NOW_NS)
    assert isinstance(code, ReturnCode) and GUARD.size <= GUARD.max_entries
    if code == ReturnCode.SUCCESS:  # nobody but CLIENT can sign: only an original (re-encoded) request passes
        originals = [parse_request(r, max_bytes=LIMIT) for r in _request_seeds()]
        assert any(req.header == o.header and bytes(req.body) == bytes(o.body) for o in originals), req.header
        fuzz_body(bytes(req.body))


@lru_cache(maxsize=None)
def _response_seeds() -> tuple[bytes, ...]:
    req = parse_request(build_request(CLIENT, synapse="forward", receiver=MINER.ss58_address, body=b"",
                                      uuid=REQUEST_UUID, now_ns=NOW_NS), max_bytes=LIMIT)
    return tuple([build_response(MINER, request=req, code=ReturnCode.SUCCESS, body=b) for b in _body_seeds()[:2]]
                 + [build_response(MINER, request=req, code=ReturnCode.OVERLOADED, message="queue full"),
                    build_response(None, request=None, code=ReturnCode.INVALID_REQUEST, message="bad header")])


def fuzz_response(data: bytes) -> None:
    try:
        resp = parse_response(data, max_bytes=LIMIT)
    except EnvelopeError as e:
        assert e.code in (ReturnCode.INVALID_RESPONSE, ReturnCode.PAYLOAD_TOO_LARGE, ReturnCode.VERSION_MISMATCH), e.code
        return
    code = verify_response(resp, request_uuid=REQUEST_UUID, expected_signer=MINER.ss58_address)
    assert code in (ReturnCode.SUCCESS, ReturnCode.INVALID_RESPONSE), code
    if code == ReturnCode.SUCCESS:  # only MINER signs: the code, message and body are an original's
        originals = [parse_response(r, max_bytes=LIMIT) for r in _response_seeds()]
        assert any((resp.code, resp.message, resp.header, bytes(resp.body))
                   == (o.code, o.message, o.header, bytes(o.body)) for o in originals)
        fuzz_body(bytes(resp.body))


def fuzz_frame(data: bytes) -> None:
    try:
        fid, timeout_ms, payload = stream.parse_frame(data)
    except wire.WireError:
        return
    assert fid <= stream.MAX_ID and timeout_ms <= stream.MAX_TIMEOUT_MS and len(payload) <= len(data)
    assert stream.parse_frame(stream.encode_frame(fid, payload, timeout_ms)) == (fid, timeout_ms, payload)
    fuzz_request(bytes(payload))


def fuzz_config(data: bytes) -> None:
    try:
        cfg = build_config([(parse_toml(data, "fuzz.toml"), lambda s, k: "file fuzz.toml")])
    except ConfigError as e:
        assert "\n" not in str(e), "config errors are one line"
        return
    assert isinstance(cfg, NeuronConfig)
    render_toml(cfg)


@lru_cache(maxsize=None)
def _keypairs() -> tuple[Keypair, ...]:
    return tuple(Keypair.create_from_mnemonic(m) for m in (
        "bottom drive obey lake curtain smoke basket hold race lonely fit walk",
        "legal winner thank year wave sausage worth useful legal winner thank yellow"))


def fuzz_keyfile(data: bytes) -> None:
    try:
        kf = keyfile.parse(data, "fuzz.json")
        if kf.encrypted:
            kdf = kf.encryption.kdf
            if 2 ** kdf.log2_n * kdf.r * 128 * kdf.p > CHEAP_KDF_BYTES:
                return
        kp = keyfile.unlock(kf, PASSWORD, "fuzz.json")
    except KeyfileError as e:
        assert isinstance(e.hint, (str, type(None)))
        return
    assert kp.private_key in {k.private_key for k in _keypairs()}, "a modified keyfile loaded a different key"


def _body_seeds() -> list[bytes]:
    return [
        encode_body({"x": np.arange(6, dtype=np.int64).reshape(2, 3), "y": torch.ones(2, 2)}, {"model": "echo"}),
        encode_body({"z": torch.zeros(64, dtype=torch.bfloat16)}, compression="zstd"),
        encode_body({"ids": np.zeros(32, np.int32), "m": np.array([True, False])}, compression="lz4"),
        encode_body({}, {"k": "v", "empty": ""}),
    ]


def _tensor_seeds() -> list[bytes]:
    return [
        tensor.encode(np.arange(6, dtype=np.float32).reshape(2, 3)),
        tensor.encode(torch.zeros(64, dtype=torch.bfloat16), compression="zstd"),
        tensor.encode(np.zeros(64, np.int16), compression="lz4"),
        tensor.encode(np.array([True, False, True])),
        tensor.encode(np.float64(1.5)),
        tensor.encode(np.zeros((0, 3), np.float16)),
        tensor.encode(np.arange(8, dtype=np.uint8).reshape(2, 2, 2)),
    ]


def _config_seeds() -> list[bytes]:
    return [render_toml(NeuronConfig()).encode(), b"[axon]\nport = 9000\nhost = '127.0.0.2'\n[chain]\nnetuid = 3\n",
            b'[gate]\ntop_k = 7\nexplore = 2\n[logging]\nlevel = "debug"\n', b""]


def _keyfile_seeds() -> list[bytes]:
    fast = keyfile.KdfCost(log2_n=10, r=8, p=1)
    a, b = _keypairs()
    bare = Keypair.create_from_private_key(b.private_key, ss58_format=keyfile.SS58_FORMAT)  # no mnemonic
    return [keyfile.dump(keyfile.build(a, password=PASSWORD, kdf=fast)), keyfile.dump(keyfile.build(a, password=None)),
            keyfile.dump(keyfile.build(bare, password=PASSWORD, kdf=fast)), keyfile.dump(keyfile.build(b, password=None))]


TARGETS = {t.name: t for t in [
    Target("tensor", fuzz_tensor, _tensor_seeds),
    Target("body", fuzz_body, _body_seeds),
    Target("request", fuzz_request, lambda: list(_request_seeds())),
    Target("response", fuzz_response, lambda: list(_response_seeds())),
    Target("frame", fuzz_frame, lambda: [stream.encode_frame(i, r, 1000 * i) for i, r in enumerate(_request_seeds())]),
    Target("config", fuzz_config, _config_seeds),
    Target("keyfile", fuzz_keyfile, _keyfile_seeds),
]}


def isolate_env() -> None:
    """No OPENSUBNET_* variable of the machine may leak into the config target."""
    for k in [k for k in os.environ if k.upper().startswith("OPENSUBNET_")]:
        del os.environ[k]


def write_seeds(root: str, names: list[str] | None = None) -> dict[str, int]:
    """Seed corpora: root/<target>/seed-<i>, one valid message per file. Returns the count per target."""
    out = {}
    for name in names or list(TARGETS):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        seeds = TARGETS[name].seeds()
        for i, s in enumerate(seeds):
            with open(os.path.join(d, f"seed-{i}"), "wb") as f:
                f.write(s)
        out[name] = len(seeds)
    return out


if __name__ == "__main__":  # python tests/fuzz/fuzz_targets.py DIR: write the seed corpora
    import sys
    print(json.dumps(write_seeds(sys.argv[1] if len(sys.argv) > 1 else "fuzz-seeds")))
