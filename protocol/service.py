"""gRPC plumbing for `service Axon { rpc Call(Request) returns (Response); }` with raw bytes.

The serialized Request/Response built by protocol.envelope ARE the gRPC messages: no serializer
runs on either side, so the bytes signed and benchmarked are exactly the bytes on the wire, and
the server hands the received buffer straight to parse_request (zero-copy tensor decode).

    channel = grpc.insecure_channel(addr, options=channel_options(max_bytes))
    call = unary_call(channel)                   # call(request_bytes, timeout=...) -> response bytes
    server.add_generic_rpc_handlers([axon_handler(handle)])   # handle(request_bytes, context) -> bytes
"""
from __future__ import annotations

from typing import Callable

import grpc

PACKAGE = "opensubnet.v1"
SERVICE_NAME = f"{PACKAGE}.Axon"
METHOD_NAME = "Call"
METHOD = f"/{SERVICE_NAME}/{METHOD_NAME}"


def channel_options(max_bytes: int) -> list[tuple[str, int]]:
    """gRPC options raising both message-size limits to max_bytes (for channels and servers)."""
    return [("grpc.max_send_message_length", max_bytes), ("grpc.max_receive_message_length", max_bytes)]


def unary_call(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    """The Call method on a sync or aio channel, sending and returning raw bytes."""
    return channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)


def axon_handler(handle: Callable) -> grpc.GenericRpcHandler:
    """A handler serving Call with `handle(request_bytes, context) -> response_bytes` (sync or async def)."""
    method = grpc.unary_unary_rpc_method_handler(handle, request_deserializer=None, response_serializer=None)
    return grpc.method_handlers_generic_handler(SERVICE_NAME, {METHOD_NAME: method})
