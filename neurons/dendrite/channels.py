"""One gRPC channel per endpoint address, reused across calls, at most `max_channels` open.

Requests travel on one long-lived `Stream` call per channel (link.py); an axon that answers
Stream with UNIMPLEMENTED (an older opensubnet, a minimal server) gets unary `Call`s from then on,
so validators can upgrade before their miners. The least recently used channel is closed when a
new address would exceed the bound; its in-flight calls get `close_grace_s` to finish.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Callable

import grpc

from protocol import service

from .link import Link, LinkError, rpc_failure


class _Peer:
    __slots__ = ("channel", "link", "unary")

    def __init__(self, channel: grpc.aio.Channel):
        self.channel, self.link, self.unary = channel, None, None  # unary: the Call stub, once Stream is missing


class ChannelPool:
    def __init__(self, *, status_code: Callable, max_channels: int = 1024, max_receive_bytes: int = 64 << 20,
                 max_send_bytes: int = 64 << 20, root_certificates: bytes | None = None, close_grace_s: float = 5.0):
        if max_channels < 1:
            raise ValueError("max_channels must be >= 1")
        self.max_channels, self.close_grace_s = max_channels, close_grace_s
        self._status_code = status_code
        self._options = [
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_send_message_length", max_send_bytes),
            ("grpc.enable_retries", 0),
        ]
        self._creds = None if root_certificates is None else grpc.ssl_channel_credentials(root_certificates)
        self._open: OrderedDict[str, _Peer] = OrderedDict()
        self._closing: set[asyncio.Task] = set()
        self.opened = 0  # channels created over the pool's life (tests and metrics read it)

    async def send(self, address: str, parts: list, length: int, timeout: float):
        """The payload of the answer to one serialized request (its buffers); raises LinkError."""
        peer = self._peer(address)
        if peer.unary is None:
            try:
                return await self._link(peer).request(parts, length, timeout)
            except LinkError as e:
                if e.status != grpc.StatusCode.UNIMPLEMENTED:
                    raise
                peer.unary = service.unary_call(peer.channel)
        try:
            return await peer.unary(b"".join(parts), timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise rpc_failure(e, self._status_code) from None

    def transport(self, address: str) -> str:
        """How requests to `address` travel: "stream", or "call" once it turned out to have no Stream."""
        peer = self._open.get(address)
        return "call" if peer is not None and peer.unary is not None else "stream"

    def link(self, address: str) -> Link:
        """The open stream to `address`, opening a channel and/or a new stream if needed."""
        return self._link(self._peer(address))

    def _link(self, peer: _Peer) -> Link:
        if peer.link is None or peer.link.closed:
            peer.link = Link(service.stream_call(peer.channel)(), self._status_code)
        return peer.link

    def _peer(self, address: str) -> _Peer:
        peer = self._open.get(address)
        if peer is None:
            peer = self._open[address] = _Peer(self._channel(address))
            self.opened += 1
            while len(self._open) > self.max_channels:
                self._close_later(self._open.popitem(last=False)[1].channel)
        else:
            self._open.move_to_end(address)
        return peer

    def _channel(self, address: str) -> grpc.aio.Channel:
        if self._creds is None:
            return grpc.aio.insecure_channel(address, options=self._options)
        return grpc.aio.secure_channel(address, self._creds, options=self._options)

    def discard(self, address: str) -> None:
        """Close the channel of an address that failed at the transport level (reconnects next time)."""
        peer = self._open.pop(address, None)
        if peer is not None:
            self._close_later(peer.channel)

    def _close_later(self, ch: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(ch.close(self.close_grace_s))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        return len(self._open)

    async def close(self) -> None:
        open_, self._open = list(self._open.values()), OrderedDict()
        await asyncio.gather(*(p.channel.close(None) for p in open_), *self._closing, return_exceptions=True)
