"""Block production for the dev ledger: emission every block, the Yuma epoch every tempo.

Per block B, as the spec-148 runtime's on_initialize: subnets whose epoch falls on B run it
(`(B + netuid + 2) % (tempo + 1) == 0`) on the storage left by block B-1, draining their pending
emission; then every subnet accrues `emission_per_block` (less the owner's cut, paid to the owner
coldkey). Stretches of blocks without an epoch are applied in one step, so catching up hours of
real-time blocks costs one transaction per epoch, not one per block.
"""
from __future__ import annotations

import logging
import sqlite3

import numpy as np

from chain.dev import state
from chain.dev.store import Store, dense, encode_row
from chain.types import U16_MAX

log = logging.getLogger(__name__)
OWNER_CUT = 11796  # u16 share of each block's emission paid to the subnet owner (SubnetOwnerCut)


def next_epoch_block(after: int, netuid: int, tempo: int) -> int | None:
    """The first block > after where the subnet's epoch runs (None when tempo is 0: never)."""
    if tempo <= 0:
        return None
    period = tempo + 1
    want = (-(netuid + 2)) % period  # B ≡ want (mod tempo + 1)
    return after + 1 + (want - (after + 1)) % period


def step(store: Store, db: sqlite3.Connection, target: int, emission_per_block: int) -> int:
    """Inside a write transaction: build blocks from the head towards `target`, stopping after the
    first epoch block. Returns the new head."""
    head = int(store.get("head"))
    if head >= target:
        return head
    subnets = [(netuid, state.hparams(db, netuid).tempo) for (netuid,) in db.execute("SELECT netuid FROM subnets")]
    due = {netuid: b for netuid, tempo in subnets
           if (b := next_epoch_block(head, netuid, tempo)) is not None and b <= target}
    stop = min(due.values(), default=target)
    for netuid, _ in subnets:  # blocks head+1 .. stop-1 only accrue emission
        _accrue(db, netuid, stop - head - 1, emission_per_block)
    for netuid in sorted(n for n, b in due.items() if b == stop):
        run_epoch(db, netuid, stop)
    for netuid, _ in subnets:  # block `stop` accrues after its epochs
        _accrue(db, netuid, 1, emission_per_block)
    store.put("head", stop)
    return stop


def advance(store: Store, target: int, emission_per_block: int) -> int:
    """Build blocks until the head reaches `target`, one transaction per epoch block (or run of
    blocks without one). Several processes may call this at once: the write lock serialises them and
    each re-reads the head, so every block is built exactly once. Returns the head."""
    while True:
        with store.write() as db:
            head = int(store.get("head"))
            if head >= target:
                return head
            step(store, db, target, emission_per_block)


def _accrue(db: sqlite3.Connection, netuid: int, blocks: int, emission_per_block: int) -> None:
    if blocks <= 0 or emission_per_block <= 0:
        return
    cut = emission_per_block * OWNER_CUT // U16_MAX
    db.execute("UPDATE subnets SET pending = pending + ? WHERE netuid=?", ((emission_per_block - cut) * blocks, netuid))
    owner, _ = state.subnet_owner(db, netuid)
    state.mint(db, owner, cut * blocks)


def run_epoch(db: sqlite3.Connection, netuid: int, block: int) -> None:
    """One Yuma epoch of `netuid` at `block` (consensus.run_epoch, spec-148 rules); results stored in
    the chain's u16 form, emission paid into the hotkeys' stake (their owner coldkey's share)."""
    from consensus import EpochInput, YumaParams, emission_amounts, run_epoch as yuma, stored_u16  # lazy

    hp = state.hparams(db, netuid)
    pending, last_epoch = db.execute("SELECT pending, last_epoch FROM subnets WHERE netuid=?", (netuid,)).fetchone()
    db.execute("UPDATE subnets SET pending=0, last_epoch=? WHERE netuid=?", (block, netuid))
    rows = db.execute(
        "SELECT n.uid, n.hotkey, n.coldkey, n.registered, n.last_update, n.permit, n.weights, n.bonds, "
        "(SELECT COALESCE(SUM(s.amount), 0) FROM stakes s WHERE s.hotkey = n.hotkey) "
        "FROM neurons n WHERE n.netuid=? ORDER BY n.uid", (netuid,)).fetchall()
    n = len(rows)
    if n == 0:
        return
    inp = EpochInput(
        stake=np.array([r[8] for r in rows], dtype=np.float64),
        weights=dense([r[6] for r in rows], n), bonds=dense([r[7] for r in rows], n),
        validator_permit=np.array([bool(r[5]) for r in rows]),
        last_update=np.array([r[4] for r in rows], dtype=np.int64),
        block_at_registration=np.array([r[3] for r in rows], dtype=np.int64),
        current_block=block, activity_cutoff=hp.activity_cutoff, last_tempo=last_epoch + 1)
    params = YumaParams(variant="spec148", kappa=hp.kappa / U16_MAX, bonds_moving_average=float(hp.bonds_moving_average),
                        max_allowed_validators=hp.max_allowed_validators)
    res = yuma(inp, params)
    stored = stored_u16(res)
    emission = emission_amounts(res.combined_share, pending).tolist()
    bond_rows = [encode_row([(int(j), int(row[j])) for j in np.flatnonzero(row)]) for row in stored["Bonds"]]
    for i, r in enumerate(rows):
        db.execute("UPDATE neurons SET consensus=?, incentive=?, dividends=?, validator_trust=?, rank=?, emission=?, "
                   "permit=?, bonds=? WHERE netuid=? AND uid=?",
                   (int(stored["Consensus"][i]), int(stored["Incentive"][i]), int(stored["Dividends"][i]),
                    int(stored["ValidatorTrust"][i]), int(stored.get("Rank", stored["Incentive"])[i]), int(emission[i]),
                    int(stored["ValidatorPermit"][i]), bond_rows[i], netuid, r[0]))
        if emission[i] > 0:  # paid into the hotkey's stake, owned by its coldkey (no nominators here)
            state.change_stake(db, r[1], r[2], int(emission[i]), minted=True)
    log.debug("epoch netuid %d block %d: %d uids, %d rao paid", netuid, block, n, sum(emission))
