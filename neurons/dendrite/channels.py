"""One gRPC channel per endpoint address, reused across calls, at most `max_channels` open.

Requests travel on one long-lived `Stream` call per channel (link.py). The least recently used
channel is closed when a new address would exceed the bound; its in-flight calls get
`close_grace_s` to finish.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Callable

import grpc

from protocol import service

from .link import Link


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
        self._open: OrderedDict[str, list] = OrderedDict()  # address -> [channel, link or None]
        self._closing: set[asyncio.Task] = set()
        self.opened = 0  # channels created over the pool's life (tests and metrics read it)

    def link(self, address: str) -> Link:
        """The open stream to `address`, opening a channel and/or a new stream if needed."""
        entry = self._open.get(address)
        if entry is None:
            entry = self._open[address] = [self._channel(address), None]
            self.opened += 1
            while len(self._open) > self.max_channels:
                _, (old, _) = self._open.popitem(last=False)
                self._close_later(old)
        else:
            self._open.move_to_end(address)
        if entry[1] is None or entry[1].closed:
            entry[1] = Link(service.stream_call(entry[0])(), self._status_code)
        return entry[1]

    def _channel(self, address: str) -> grpc.aio.Channel:
        if self._creds is None:
            return grpc.aio.insecure_channel(address, options=self._options)
        return grpc.aio.secure_channel(address, self._creds, options=self._options)

    def discard(self, address: str) -> None:
        """Close the channel of an address that failed at the transport level (reconnects next time)."""
        entry = self._open.pop(address, None)
        if entry is not None:
            self._close_later(entry[0])

    def _close_later(self, ch: grpc.aio.Channel) -> None:
        task = asyncio.get_running_loop().create_task(ch.close(self.close_grace_s))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def __len__(self) -> int:
        return len(self._open)

    async def close(self) -> None:
        open_, self._open = list(self._open.values()), OrderedDict()
        await asyncio.gather(*(ch.close(None) for ch, _ in open_), *self._closing, return_exceptions=True)
