"""One subnet's metagraph from the dev ledger in three queries (subnet, neurons with stake, nothing per uid).
Stake is what the subnet's epoch weighs: the stake on the subnet plus the root stake."""
from __future__ import annotations

import sqlite3

import numpy as np

from chain.dev import state
from chain.dev.store import dense
from chain.types import RAO_PER_TAO, U16_MAX, AxonInfo, Metagraph


def read_metagraph(db: sqlite3.Connection, netuid: int, block: int) -> Metagraph:
    state.hparams(db, netuid)  # SubNetworkDoesNotExist for an unknown netuid
    rows = db.execute(
        "SELECT n.uid, n.hotkey, n.coldkey, n.consensus, n.incentive, n.dividends, n.validator_trust, n.rank, "
        "n.permit, n.emission, n.last_update, n.registered, n.axon_ip, n.axon_port, n.axon_protocol, n.axon_version, "
        f"n.weights, n.bonds, {state.STAKE_WEIGHT_OF_N}, n.trust, n.pruning, n.active FROM neurons n "
        "WHERE n.netuid=? ORDER BY n.uid", (netuid,)).fetchall()
    n = len(rows)
    col = list(zip(*rows)) if rows else [()] * 22

    def u16(i: int) -> np.ndarray:
        return np.asarray(col[i], dtype=np.float64) / U16_MAX

    axons = [AxonInfo(ip, port, proto, ver) if ip else None for ip, port, proto, ver in zip(*col[12:16])]
    return Metagraph(
        netuid=netuid, block=block,
        uids=np.asarray(col[0], dtype=np.int64), hotkeys=list(col[1]), coldkeys=list(col[2]),
        stake=np.asarray(col[18], dtype=np.float64) / RAO_PER_TAO,
        consensus=u16(3), incentive=u16(4), dividends=u16(5), validator_trust=u16(6),
        validator_permit=np.asarray(col[8], dtype=bool),
        emission=np.asarray(col[9], dtype=np.float64) / RAO_PER_TAO,
        last_update=np.asarray(col[10], dtype=np.int64), block_at_registration=np.asarray(col[11], dtype=np.int64),
        axons=axons, weights=dense(list(col[16]), n), bonds=dense(list(col[17]), n),
        extra={"rank": u16(7), "trust": u16(19), "pruning_scores": np.asarray(col[20], dtype=np.int64),
               "active": np.asarray(col[21], dtype=bool), "emission_rao": np.asarray(col[9], dtype=np.int64),
               "stake_rao": np.asarray(col[18], dtype=np.int64)},
    )
