"""The dev ledger's SQLite file: schema, pragmas, transactions and small codecs.

WAL journal with synchronous=FULL: a transaction is durable once COMMIT returns, and a process
killed at any point (kill -9) leaves the last committed block intact. Writers take the database
lock up front (BEGIN IMMEDIATE) so two processes never build the same block; readers see a
consistent snapshot without blocking writers.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

SCHEMA_VERSION = 1

#: stake per subnet, as on dTAO; netuid 0 (root) counts on every subnet
STAKES = """CREATE TABLE IF NOT EXISTS stakes (
    hotkey TEXT NOT NULL, coldkey TEXT NOT NULL, netuid INTEGER NOT NULL DEFAULT 0, amount INTEGER NOT NULL,
    PRIMARY KEY (hotkey, coldkey, netuid))"""

SCHEMA = STAKES + """;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (ss58 TEXT PRIMARY KEY, free INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS owners (hotkey TEXT PRIMARY KEY, coldkey TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subnets (
    netuid INTEGER PRIMARY KEY, owner TEXT NOT NULL, owner_hotkey TEXT, created INTEGER NOT NULL,
    params TEXT NOT NULL,                 -- Hyperparameters as JSON
    pending INTEGER NOT NULL DEFAULT 0,   -- rao emission waiting for the next epoch
    last_epoch INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS neurons (
    netuid INTEGER NOT NULL, uid INTEGER NOT NULL, hotkey TEXT NOT NULL, coldkey TEXT NOT NULL,
    registered INTEGER NOT NULL, last_update INTEGER NOT NULL DEFAULT 0,
    permit INTEGER NOT NULL DEFAULT 0,
    consensus INTEGER NOT NULL DEFAULT 0, incentive INTEGER NOT NULL DEFAULT 0,   -- u16 as stored by the chain
    dividends INTEGER NOT NULL DEFAULT 0, validator_trust INTEGER NOT NULL DEFAULT 0,
    rank INTEGER NOT NULL DEFAULT 0, emission INTEGER NOT NULL DEFAULT 0,           -- emission: rao per epoch
    axon_ip TEXT, axon_port INTEGER NOT NULL DEFAULT 0, axon_protocol INTEGER NOT NULL DEFAULT 0,
    axon_version INTEGER NOT NULL DEFAULT 0, axon_block INTEGER NOT NULL DEFAULT 0,
    weights BLOB, bonds BLOB,            -- sparse rows: u16 (uid, value) pairs
    trust INTEGER NOT NULL DEFAULT 0, pruning INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (netuid, uid), UNIQUE (netuid, hotkey));
CREATE TABLE IF NOT EXISTS epochs (     -- each subnet's latest epoch, inputs and outputs (npz), for the audit
    netuid INTEGER PRIMARY KEY, block INTEGER NOT NULL, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
    netuid INTEGER NOT NULL, hotkey TEXT NOT NULL, seq INTEGER NOT NULL,
    hash TEXT NOT NULL, block INTEGER NOT NULL,
    PRIMARY KEY (netuid, hotkey, seq));
CREATE TABLE IF NOT EXISTS registrations (netuid INTEGER NOT NULL, block INTEGER NOT NULL);
"""


def encode_row(pairs: Sequence[tuple[int, int]]) -> bytes:
    """[(uid, u16), …] → little-endian u16 pairs."""
    return np.asarray(pairs, dtype="<u2").reshape(-1).tobytes()


def decode_row(blob: bytes | None) -> np.ndarray:
    """→ (k, 2) int64 array of (uid, value)."""
    if not blob:
        return np.zeros((0, 2), dtype=np.int64)
    return np.frombuffer(blob, dtype="<u2").reshape(-1, 2).astype(np.int64)


def dense(rows: Sequence[bytes | None], n: int) -> np.ndarray:
    """Sparse rows → (n, n) float64 raw u16 matrix; row i = what uid i stored."""
    m = np.zeros((n, n), dtype=np.float64)  # m: [n, n]
    for i, blob in enumerate(rows):
        pairs = decode_row(blob)
        if len(pairs):
            keep = pairs[:, 0] < n
            m[i, pairs[keep, 0]] = pairs[keep, 1]
    return m


class Store:
    """One connection per DevChain object, shared by its threads under a lock."""

    def __init__(self, path: str, busy_timeout: float = 60.0):
        self.path = path
        self._lock = threading.RLock()
        self.db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)  # idempotent DDL, safe when several processes open the file at once
        self._add_columns("neurons", {"trust": "INTEGER NOT NULL DEFAULT 0", "pruning": "INTEGER NOT NULL DEFAULT 0",
                                      "active": "INTEGER NOT NULL DEFAULT 0"})
        self._stakes_per_subnet()

    def _stakes_per_subnet(self) -> None:
        """A ledger made before stake per subnet: its stakes become root stake (netuid 0)."""
        def migrated() -> bool:
            return "netuid" in {row[1] for row in self.db.execute("PRAGMA table_info(stakes)")}

        if migrated():
            return
        with self.write() as db:
            if migrated():  # another process did it meanwhile
                return
            db.execute("ALTER TABLE stakes RENAME TO stakes_v1")
            db.execute(STAKES)
            db.execute("INSERT INTO stakes(hotkey, coldkey, netuid, amount) SELECT hotkey, coldkey, 0, amount FROM stakes_v1")
            db.execute("DROP TABLE stakes_v1")

    def _add_columns(self, table: str, columns: dict[str, str]) -> None:
        """Columns added since a ledger file was made (a file from an older version opens as is)."""
        have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns.items():
            if name not in have:
                try:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction (takes the database write lock at once)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries."""
        with self._lock:
            self.db.execute("BEGIN")
            try:
                yield self.db
            finally:
                self.db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside write(): undo only this part on error (a failed extrinsic inside a kept block)."""
        self.db.execute("SAVEPOINT xt")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO xt")
            self.db.execute("RELEASE xt")
            raise
        self.db.execute("RELEASE xt")

    # --- meta -----------------------------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else row[0]

    def put(self, key: str, value) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (key, str(value)))

    def close(self) -> None:
        with self._lock:
            self.db.close()
