"""gRPC plumbing for `service Axon` with raw bytes: `Call` (unary) and `Stream` (frames, protocol/stream.py).

The serialized Request/Response built by protocol.envelope ARE the gRPC messages (wrapped in a
Frame on the stream): no serializer runs on either side, so the bytes signed and benchmarked
are exactly the bytes on the wire, and the server hands the received buffer straight to
parse_request (zero-copy tensor decode).

    channel = grpc.insecure_channel(addr, options=channel_options(max_bytes))
    call = unary_call(channel)                   # call(request_bytes, timeout=...) -> response bytes
    server.add_generic_rpc_handlers([axon_handler(handle)])   # handle(request_bytes, context) -> bytes
    server.add_generic_rpc_handlers([axon_handler(handle, stream=frames)])  # frames(iterator, context): async gen
    server.add_generic_rpc_handlers([axon_handler(handle, stream=answer_in_order(handle))])  # simple servers
"""
from __future__ import annotations

import inspect
from typing import Callable

import grpc

from protocol import stream

PACKAGE = "opensubnet.v1"
SERVICE_NAME = f"{PACKAGE}.Axon"
METHOD_NAME = "Call"
STREAM_NAME = "Stream"
METHOD = f"/{SERVICE_NAME}/{METHOD_NAME}"
STREAM_METHOD = f"/{SERVICE_NAME}/{STREAM_NAME}"


def channel_options(max_bytes: int) -> list[tuple[str, int]]:
    """gRPC options raising both message-size limits to max_bytes (for channels and servers)."""
    return [("grpc.max_send_message_length", max_bytes), ("grpc.max_receive_message_length", max_bytes)]


def unary_call(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    """The Call method on a sync or aio channel, sending and returning raw bytes."""
    return channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)


def stream_call(channel: grpc.aio.Channel) -> grpc.aio.StreamStreamMultiCallable:
    """The Stream method on an aio channel: frames (raw bytes) both ways."""
    return channel.stream_stream(STREAM_METHOD, request_serializer=None, response_deserializer=None)


def axon_handler(handle: Callable, *, stream: Callable | None = None) -> grpc.GenericRpcHandler:
    """Serve Call with `handle(request_bytes, context) -> response_bytes` (sync or async def) and,
    when given, Stream with `stream(frame_iterator, context)` yielding frames."""
    methods = {METHOD_NAME: grpc.unary_unary_rpc_method_handler(handle, request_deserializer=None,
                                                                response_serializer=None)}
    if stream is not None:
        methods[STREAM_NAME] = grpc.stream_stream_rpc_method_handler(stream, request_deserializer=None,
                                                                     response_serializer=None)
    return grpc.method_handlers_generic_handler(SERVICE_NAME, methods)


def answer_in_order(handle: Callable) -> Callable:
    """A Stream handler that answers each frame's payload with `handle(payload, context)`, one at a
    time (a minimal server or a test fake; the Axon serves frames concurrently, neurons/axon/streams.py)."""
    async def frames(iterator, context):
        async for data in iterator:
            fid, _, payload = stream.parse_frame(data)
            out = handle(payload, context)
            yield stream.encode_frame(fid, await out if inspect.isawaitable(out) else out)
    return frames
