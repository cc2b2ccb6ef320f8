"""schema.proto, the committed schema_pb2.py and the hand-written framing agree."""
import numpy as np
import pytest
import torch
from google.protobuf import descriptor_pb2
from substrateinterface import Keypair

from protocol import envelope, schema_gen, schema_pb2 as pb, tensor
from protocol.codes import ReturnCode, describe
from protocol.service import METHOD


def _strip_json_names(messages):
    for m in messages:
        for f in m.field:
            f.ClearField("json_name")
        _strip_json_names(m.nested_type)


def test_committed_pb2_matches_proto(tmp_path):
    out = tmp_path / "desc.pb"
    from grpc_tools import protoc

    root = schema_gen.PROTO.parent.parent
    rc = protoc.main(["protoc", f"-I{root}", f"--descriptor_set_out={out}", "protocol/schema.proto"])
    assert rc == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    _strip_json_names(fresh.message_type)  # protoc's python plugin omits them; not schema content
    committed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert fresh == committed, "protocol/schema_pb2.py is stale: run `python -m protocol.schema_gen`"


def test_regenerated_module_is_identical_with_the_same_protoc(tmp_path):
    fresh = schema_gen.generate(tmp_path).read_text()
    committed = schema_gen.GENERATED.read_text()
    version = lambda text: [ln for ln in text.splitlines() if ln.startswith("# Protobuf Python Version")]  # noqa: E731
    if version(fresh) != version(committed):
        pytest.skip(f"grpcio-tools here writes {version(fresh)}, committed {version(committed)}; "
                    "the descriptor test above still checks the schema")
    assert fresh == committed, "protocol/schema_pb2.py is stale: run `python -m protocol.schema_gen`"


def test_python_enums_mirror_proto():
    assert {c.name: int(c) for c in ReturnCode} == dict(pb.ReturnCode.items())
    assert {f"DTYPE_{d.name}": int(d) for d in tensor.DType} == {k: v for k, v in pb.DType.items() if v}
    assert {f"COMPRESSION_{c.name}": int(c) for c in tensor.Compression} == dict(pb.Compression.items())
    assert describe(ReturnCode.STALE).startswith("STALE (6): ")
    assert describe(99).startswith("UNKNOWN (99)")
    assert METHOD == "/" + pb.DESCRIPTOR.services_by_name["Axon"].full_name + "/Call"


@pytest.mark.parametrize("x", [
    np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.float64(2.5), np.zeros((0, 5), np.int64),
    torch.ones(3, 2, dtype=torch.bfloat16), np.array([True, False, True]),
])
def test_tensor_framing_round_trips_through_generated_class(x):
    data = tensor.encode(x)
    m = pb.Tensor.FromString(data)
    want = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    assert list(m.shape) == list(want.shape)
    assert m.raw_size == len(m.data) == want.numel() * want.element_size()
    assert m.SerializeToString() == data  # canonical: byte-identical to what protobuf writes
    assert torch.equal(tensor.decode(m.SerializeToString()), want)


def test_generated_tensor_with_unpacked_shape_decodes():
    m = pb.Tensor(dtype=pb.DTYPE_I32, shape=[2, 2], data=np.arange(4, dtype="<i4").tobytes())
    wire = m.SerializeToString()
    assert tensor.decode_numpy(wire).tolist() == [[0, 1], [2, 3]]
    unpacked = b"\x08\x05" + b"\x10\x02\x10\x02" + b"\x2a\x10" + np.arange(4, dtype="<i4").tobytes()
    assert pb.Tensor.FromString(unpacked) == m
    assert tensor.decode_numpy(unpacked).tolist() == [[0, 1], [2, 3]]


def test_body_and_envelopes_round_trip_through_generated_classes():
    alice, bob = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob")
    body = envelope.encode_body({"a": np.arange(3, dtype=np.int8), "b": torch.zeros(2)}, {"k": "v"})
    mb = pb.Body.FromString(body)
    assert set(mb.tensors) == {"a", "b"} and mb.fields["k"] == "v"
    assert list(mb.tensors["a"].data) == [0, 1, 2]
    gen_body = pb.Body(tensors={"t": pb.Tensor(dtype=pb.DTYPE_F64, shape=[1], data=b"\0" * 8)}, fields={"x": "y"})
    decoded = envelope.decode_body(gen_body.SerializeToString())
    assert decoded.tensors["t"].tolist() == [0.0] and decoded.fields == {"x": "y"}

    data = envelope.build_request(alice, synapse="forward", receiver=bob.ss58_address, body=body)
    mr = pb.Request.FromString(data)
    assert mr.header.caller == alice.ss58_address and mr.header.receiver == bob.ss58_address
    assert mr.body == body and len(mr.header.signature) == 64
    assert mr.SerializeToString() == data
    req = envelope.parse_request(mr.SerializeToString(), max_bytes=1 << 20)
    assert bytes(req.body) == body and req.header.uuid == mr.header.uuid

    reply = envelope.build_response(bob, request=req, code=ReturnCode.NOT_FOUND, message="no such synapse")
    ms = pb.Response.FromString(reply)
    assert ms.code == pb.NOT_FOUND and ms.message == "no such synapse" and ms.header.uuid == mr.header.uuid
    assert ms.SerializeToString() == reply
    gen = pb.Response(code=pb.OVERLOADED, message="busy").SerializeToString()
    resp = envelope.parse_response(gen, max_bytes=1 << 20)
    assert resp.code == ReturnCode.OVERLOADED and resp.message == "busy" and resp.header is None
