"""One gRPC channel per endpoint address, reused across calls, at most `max_channels` open.

The least recently used channel is closed when a new address would exceed the bound; its
in-flight calls get `close_grace_s` to finish.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Callable

import grpc

from protocol import service


class ChannelPool:
    def __init__(self, *, max_channels: int = 1024, max_receive_bytes: int = 64 << 20,
                 max_send_bytes: int = 64 << 20, root_certificates: bytes | None = None,
                 close_grace_s: float = 5.0):
        if max_channels < 1:
            raise ValueError("max_channels must be >= 1")
        self.max_channels, self.close_grace_s = max_channels, close_grace_s
        self._options = [
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.max_send_message_length", max_send_bytes),
            ("grpc.enable_retries", 0),
        ]
        self._creds = None if root_certificates is None else grpc.ssl_channel_credentials(root_certificates)
        self._open: OrderedDict[str, tuple[grpc.aio.Channel, Callable]] = OrderedDict()
        self._closing: set[asyncio.Task] = set()
        self.opened = 0  # channels created over the pool's life (tests and metrics read it)

    def call(self, address: str) -> Callable:
        """The unary-unary callable for `address` (bytes in, bytes out), opening a channel if needed."""
        hit = self._open.get(address)
        if hit is not None:
            self._open.move_to_end(address)
            return hit[1]
        if self._creds is None:
            ch = grpc.aio.insecure_channel(address, options=self._options)
        else:
            ch = grpc.aio.secure_channel(address, self._creds, options=self._options)
        stub = ch.unary_unary(service.METHOD)  # no (de)serializers: raw bytes
        self._open[address] = (ch, stub)
        self.opened += 1
        while len(self._open) > self.max_channels:
            _, (old, _) = self._open.popitem(last=False)
            self._close_later(old)
        return stub

    def discard(self, address: str) -> None:
        """Close the channel of an address that failed at the transport level (reconnects next time)."""
        hit = self._open.pop(address, None)
        if hit is not None:
            self._close_later(hit[0])

    def _close_later(self, ch: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(ch.close(self.close_grace_s))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        return len(self._open)

    async def close(self) -> None:
        open_, self._open = list(self._open.values()), OrderedDict()
        await asyncio.gather(*(ch.close(None) for ch, _ in open_), *self._closing, return_exceptions=True)
