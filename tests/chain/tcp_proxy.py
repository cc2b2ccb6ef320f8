"""A loopback TCP proxy in front of the chain that the tests control: it cuts connections, stalls them
(bytes stop flowing, sockets stay open: a stale websocket), cuts them at a chosen moment (when the
node's answer contains a marker), or takes the whole endpoint down and brings it back on the same
port (what a client sees when the chain process restarts)."""
from __future__ import annotations

import socket
import threading


class ChainProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = 0
        self.accepted = 0
        self._marker: bytes | None = None
        self._stalled: set = set()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self.up()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # --- control -----------------------------------------------------------------------------
    def up(self) -> None:
        """Listen (again, on the same port after `down`)."""
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones: the chain is gone."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self.cut()

    def cut(self) -> None:
        """Drop every open connection (both directions, at once)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stall(self) -> None:
        """Open connections stop delivering in both directions; new ones work."""
        with self._lock:
            self._stalled = {p for a, b in self._pairs for p in ((a, b), (b, a))}

    def close(self) -> None:
        self.down()

    def cut_when_node_says(self, marker: bytes) -> None:
        """One-shot: the next node message containing `marker` is swallowed and the connection cut."""
        self._marker = marker

    # --- plumbing ----------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self.accepted += 1
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_node: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_node and self._marker is not None and self._marker in data:
                    self._marker = None
                    self.cut()
                    return
                if (src, dst) in self._stalled:
                    continue                  # swallowed: the peer never hears back
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
