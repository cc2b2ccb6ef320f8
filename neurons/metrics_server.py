"""Prometheus metrics served over HTTP (`GET /metrics`, a daemon thread): `ServedMetrics` holds one registry
and serves it on demand; the miner's (neurons/axon/metrics.py) and the validator's (neurons/validator/metrics.py)."""
from __future__ import annotations

import errno
import logging
import socket

from prometheus_client import CollectorRegistry, generate_latest, start_http_server

log = logging.getLogger("opensubnet.metrics")


class MetricsServerError(OSError):
    """The metrics port cannot be bound (in use, not permitted, no such address)."""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _bind_error(e: OSError, host: str, port: int, what: str) -> MetricsServerError:
    why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror or e})"
    return MetricsServerError(f"{what} port {host}:{port} {why}",
                              hint="pick another --metrics.port (0 = any free port), or stop what holds it")


def check_port(port: int | None, host: str = "127.0.0.1", what: str = "metrics") -> None:
    """Bind (host, port) once and let go, as the server will: MetricsServerError now rather than after a model loads."""
    if not port:
        return
    try:
        with socket.create_server((host, port), reuse_port=False) as _:
            pass
    except OSError as e:
        raise _bind_error(e, host, port, what) from None


class MetricsServer:
    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1", what: str = "metrics"):
        """Bind now (port 0: any free port, see `.port`); MetricsServerError when the address cannot be bound."""
        try:
            self._server, _thread = start_http_server(port, addr=host, registry=registry)
        except OSError as e:
            raise _bind_error(e, host, port, what) from None
        self.host, self.port = host, self._server.server_port
        log.info("%s on http://%s:%d/metrics", what, host, self.port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ServedMetrics:
    """A metrics holder with its own registry, served on demand. Subclasses add their metrics to `self.registry`."""
    what = "metrics"

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self._server: MetricsServer | None = None

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Expose /metrics over HTTP on (host, port) in a daemon thread; returns the bound port."""
        self._server = MetricsServer(self.registry, port, host, self.what)
        return self._server.port

    @property
    def port(self) -> int | None:
        """The port /metrics is served on (None: not serving)."""
        return self._server.port if self._server is not None else None

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
