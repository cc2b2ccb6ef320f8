"""Reads and small updates of the dev ledger's storage, shared by extrinsics and block production.

Every function takes the open sqlite3 connection of the current transaction. Balance changes go
through `move`/`mint`/`burn`, which keep meta 'issuance' equal to all free balances plus all stake.
"""
from __future__ import annotations

import json
import sqlite3

from chain.errors import error_from_name
from chain.types import Hyperparameters


def hparams(db: sqlite3.Connection, netuid: int) -> Hyperparameters:
    row = db.execute("SELECT params FROM subnets WHERE netuid=?", (netuid,)).fetchone()
    if row is None:
        raise error_from_name("SubNetworkDoesNotExist", f"netuid {netuid}")
    return Hyperparameters(**json.loads(row[0]))


def save_hparams(db: sqlite3.Connection, netuid: int, hp: Hyperparameters) -> None:
    db.execute("UPDATE subnets SET params=? WHERE netuid=?", (json.dumps(hp.as_dict()), netuid))


def subnet_owner(db: sqlite3.Connection, netuid: int) -> tuple[str, str | None]:
    row = db.execute("SELECT owner, owner_hotkey FROM subnets WHERE netuid=?", (netuid,)).fetchone()
    if row is None:
        raise error_from_name("SubNetworkDoesNotExist", f"netuid {netuid}")
    return row[0], row[1]


def free(db: sqlite3.Connection, ss58: str) -> int:
    row = db.execute("SELECT free FROM accounts WHERE ss58=?", (ss58,)).fetchone()
    return 0 if row is None else int(row[0])


def _add_free(db: sqlite3.Connection, ss58: str, delta: int) -> None:
    db.execute("INSERT INTO accounts(ss58, free) VALUES(?, ?) ON CONFLICT(ss58) DO UPDATE SET free=free+excluded.free",
               (ss58, int(delta)))


def _issuance(db: sqlite3.Connection, delta: int) -> None:
    db.execute("UPDATE meta SET value=CAST(CAST(value AS INTEGER)+? AS TEXT) WHERE key='issuance'", (int(delta),))


def withdraw(db: sqlite3.Connection, ss58: str, amount: int, error: str) -> None:
    """Take `amount` from a free balance or raise the runtime error `error`."""
    have = free(db, ss58)
    if amount > have:
        raise error_from_name(error, f"needs {amount} rao, has {have}")
    _add_free(db, ss58, -amount)


def deposit(db: sqlite3.Connection, ss58: str, amount: int) -> None:
    _add_free(db, ss58, amount)


def burn(db: sqlite3.Connection, ss58: str, amount: int, error: str) -> None:
    withdraw(db, ss58, amount, error)
    _issuance(db, -amount)


def mint(db: sqlite3.Connection, ss58: str, amount: int) -> None:
    _add_free(db, ss58, amount)
    _issuance(db, amount)


ROOT = 0  # stake on the root network counts on every subnet (the dev ledger's TaoWeight is 1)
#: SQL for the stake weight of neuron row `n` (see stake_weight), for queries over the neurons table
STAKE_WEIGHT_OF_N = (f"(SELECT COALESCE(SUM(s.amount), 0) FROM stakes s WHERE s.hotkey = n.hotkey "
                     f"AND s.netuid IN (n.netuid, {ROOT}))")


def stake_of(db: sqlite3.Connection, hotkey: str, coldkey: str | None = None, netuid: int = ROOT) -> int:
    """Rao staked to `hotkey` on `netuid` (all coldkeys', or one's)."""
    if coldkey is None:
        row = db.execute("SELECT COALESCE(SUM(amount), 0) FROM stakes WHERE hotkey=? AND netuid=?",
                         (hotkey, netuid)).fetchone()
    else:
        row = db.execute("SELECT COALESCE(SUM(amount), 0) FROM stakes WHERE hotkey=? AND coldkey=? AND netuid=?",
                         (hotkey, coldkey, netuid)).fetchone()
    return int(row[0])


def stake_weight(db: sqlite3.Connection, hotkey: str, netuid: int) -> int:
    """Rao the subnet's epoch and weights rules weigh: the stake on the subnet plus the root stake."""
    row = db.execute("SELECT COALESCE(SUM(amount), 0) FROM stakes WHERE hotkey=? AND netuid IN (?, ?)",
                     (hotkey, netuid, ROOT)).fetchone()
    return int(row[0])


def change_stake(db: sqlite3.Connection, hotkey: str, coldkey: str, delta: int, netuid: int = ROOT, *,
                 minted: bool = False) -> None:
    db.execute("INSERT INTO stakes(hotkey, coldkey, netuid, amount) VALUES(?, ?, ?, ?) ON CONFLICT(hotkey, coldkey, "
               "netuid) DO UPDATE SET amount=amount+excluded.amount", (hotkey, coldkey, netuid, int(delta)))
    db.execute("DELETE FROM stakes WHERE hotkey=? AND coldkey=? AND netuid=? AND amount=0", (hotkey, coldkey, netuid))
    if minted:
        _issuance(db, delta)


def owner_of(db: sqlite3.Connection, hotkey: str) -> str | None:
    row = db.execute("SELECT coldkey FROM owners WHERE hotkey=?", (hotkey,)).fetchone()
    return None if row is None else row[0]


def uid_of(db: sqlite3.Connection, netuid: int, hotkey: str) -> int | None:
    row = db.execute("SELECT uid FROM neurons WHERE netuid=? AND hotkey=?", (netuid, hotkey)).fetchone()
    return None if row is None else int(row[0])


def subnet_n(db: sqlite3.Connection, netuid: int) -> int:
    return int(db.execute("SELECT COUNT(*) FROM neurons WHERE netuid=?", (netuid,)).fetchone()[0])


def neuron(db: sqlite3.Connection, netuid: int, uid: int) -> sqlite3.Row | tuple | None:
    return db.execute("SELECT hotkey, coldkey, registered, last_update, permit, axon_block FROM neurons "
                      "WHERE netuid=? AND uid=?", (netuid, uid)).fetchone()
