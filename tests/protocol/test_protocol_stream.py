"""Stream frames: round trip, zero-copy payload, byte-compatible with the generated class, strict parsing."""
import pytest

from protocol import schema_pb2 as pb, stream, wire


def test_frame_round_trips_and_matches_the_generated_class():
    payload = b"\x0a\x03abc" * 100
    data = stream.encode_frame(7, payload, timeout_ms=2500)
    fid, timeout_ms, view = stream.parse_frame(data)
    assert (fid, timeout_ms, bytes(view)) == (7, 2500, payload)
    assert view.obj is data  # a view into the received message, not a copy
    m = pb.Frame.FromString(data)
    assert (m.id, m.timeout_ms, m.payload) == (7, 2500, payload)
    assert m.SerializeToString() == data
    assert b"".join(stream.frame_parts(7, [payload[:5], payload[5:]], len(payload), 2500)) == data


def test_defaults_are_omitted_and_read_back():
    data = stream.encode_frame(0, b"")
    assert stream.parse_frame(data)[:2] == (0, 0) and bytes(stream.parse_frame(data)[2]) == b""
    assert stream.parse_frame(b"")[:2] == (0, 0)  # a generated writer omits every default field


@pytest.mark.parametrize("bad", [
    b"\x20\x01",                                   # field 4: unknown
    b"\x08\x01\x08\x02",                           # id twice
    b"\x0a\x01x",                                  # id as bytes
    b"\x18\x01",                                   # payload as a varint
    b"\x10" + wire.varint(1 << 32),               # timeout_ms beyond uint32
    b"\x1a\x05abc",                                # payload runs past the end
    b"\xff",                                       # truncated key
    b"\x88\x00\x01",                               # id's key in an over-long (non-canonical) form
    b"\x08\x80",                                   # truncated id
    b"\x08" + b"\xff" * 10 + b"\x01",               # id longer than 10 bytes
])
def test_malformed_frames_raise_wire_error(bad):
    with pytest.raises(wire.WireError):
        stream.parse_frame(bad)


def test_out_of_range_values_are_refused_when_writing():
    with pytest.raises(ValueError):
        stream.encode_frame(-1, b"")
    with pytest.raises(ValueError):
        stream.encode_frame(1, b"", timeout_ms=1 << 32)
