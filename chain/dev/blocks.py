"""Block production for the dev ledger: emission every block, the Yuma epoch every tempo.

Per block B, as the spec-148 runtime's generate_emission: every subnet accrues `emission_per_block`
(less the owner's cut, paid to the owner coldkey); then subnets whose epoch falls on B
(`(B + netuid + 2) % (tempo + 1) == 0`) run it on the storage left by block B-1, draining all their
pending emission, B's included. The epoch follows today's rules (VARIANT: Yuma3, liquid alpha and the
bonds penalty per subnet, the owner's exemptions, stake per subnet plus root stake), stores what the
runtime stores (u16 values, permits, Active, Emission in rao) and keeps its inputs for the audit
(table `epochs`, the latest epoch per subnet). Stretches of blocks without an epoch are applied in
one step, so catching up hours of real-time blocks costs one transaction per epoch, not one per block.
"""
from __future__ import annotations

import io
import json
import logging
import sqlite3

import numpy as np

from chain.audit import EpochRecord
from chain.dev import state
from chain.dev.store import Store, dense, encode_row
from chain.types import U16_MAX, Hyperparameters

log = logging.getLogger(__name__)
#: the rules the dev ledger's epoch follows (consensus.params.VARIANTS): today's chain's
VARIANT = "current"
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
    for netuid, _ in subnets:  # blocks head+1 .. stop accrue emission (the epoch block before its epoch)
        _accrue(db, netuid, stop - head, emission_per_block)
    for netuid in sorted(n for n, b in due.items() if b == stop):
        run_epoch(db, netuid, stop)
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


def owner_cut(emission: int, cut_u16: int = OWNER_CUT) -> int:
    """Rao of one block's subnet emission paid to the owner, as generate_emission computes it in
    I96F32: emission * cut / 65535 truncated to 32 fraction bits, taken from the emission (which is
    then floored), so the owner gets the ceiling."""
    frac = (int(emission) * int(cut_u16) << 32) // U16_MAX  # I96F32 bits of the cut
    return (frac + (1 << 32) - 1) >> 32


def _accrue(db: sqlite3.Connection, netuid: int, blocks: int, emission_per_block: int) -> None:
    if blocks <= 0 or emission_per_block <= 0:
        return
    cut = owner_cut(emission_per_block)
    db.execute("UPDATE subnets SET pending = pending + ? WHERE netuid=?", ((emission_per_block - cut) * blocks, netuid))
    owner, _ = state.subnet_owner(db, netuid)
    state.mint(db, owner, cut * blocks)


def run_epoch(db: sqlite3.Connection, netuid: int, block: int) -> None:
    """One Yuma epoch of `netuid` at `block` (consensus.run_epoch under today's rules, variant
    "current", with the subnet's Yuma3, liquid alpha and bonds penalty); results stored as the chain
    stores them, emission paid into the hotkeys' stake on the subnet (their owner coldkey's), inputs and
    outputs kept in `epochs` for the audit."""
    from chain.audit import recompute  # lazy: consensus

    hp = state.hparams(db, netuid)
    (pending,) = db.execute("SELECT pending FROM subnets WHERE netuid=?", (netuid,)).fetchone()
    db.execute("UPDATE subnets SET pending=0, last_epoch=? WHERE netuid=?", (block, netuid))
    rows = db.execute(
        "SELECT n.uid, n.hotkey, n.coldkey, n.registered, n.last_update, n.permit, n.weights, n.bonds, "
        f"{state.STAKE_WEIGHT_OF_N} FROM neurons n WHERE n.netuid=? ORDER BY n.uid", (netuid,)).fetchall()
    n = len(rows)
    if n == 0:
        return
    rec = EpochRecord(
        netuid=netuid, block=block, hotkeys=[r[1] for r in rows],
        stake=np.array([r[8] for r in rows], dtype=np.int64),
        weights=dense([r[6] for r in rows], n), bonds=dense([r[7] for r in rows], n),
        validator_permit=np.array([bool(r[5]) for r in rows]),
        last_update=np.array([r[4] for r in rows], dtype=np.int64),
        block_at_registration=np.array([r[3] for r in rows], dtype=np.int64),
        hyperparameters=hp, rao_emission=int(pending), stored={}, variant=VARIANT,
        owner_uid=state.uid_of(db, netuid, owner_hotkey) if (owner_hotkey := state.subnet_owner(db, netuid)[1]) else None)
    out = recompute(rec)
    rec.stored = out
    bond_rows = [encode_row([(int(j), int(row[j])) for j in np.flatnonzero(row)]) for row in out["Bonds"]]
    emission = [int(e) for e in out["Emission"]]
    for i, r in enumerate(rows):
        db.execute("UPDATE neurons SET consensus=?, incentive=?, dividends=?, validator_trust=?, rank=?, trust=?, "
                   "pruning=?, active=?, emission=?, permit=?, bonds=? WHERE netuid=? AND uid=?",
                   (*(int(out[k][i]) if k in out else 0 for k in ("Consensus", "Incentive", "Dividends", "ValidatorTrust",
                                                                   "Rank", "Trust", "PruningScores", "Active")),
                    emission[i], int(out["ValidatorPermit"][i]), bond_rows[i], netuid, r[0]))
        if emission[i] > 0:  # paid into the hotkey's stake, owned by its coldkey (no nominators here)
            state.change_stake(db, r[1], r[2], emission[i], netuid, minted=True)
    db.execute("INSERT INTO epochs(netuid, block, record) VALUES(?,?,?) ON CONFLICT(netuid) DO UPDATE SET "
               "block=excluded.block, record=excluded.record", (netuid, block, encode_record(rec)))
    log.debug("epoch netuid %d block %d: %d uids, %d rao paid", netuid, block, n, sum(emission))


_ARRAYS = ("stake", "weights", "bonds", "validator_permit", "last_update", "block_at_registration")


def encode_record(rec: EpochRecord) -> bytes:
    """An EpochRecord as one npz blob (no pickles)."""
    buf = io.BytesIO()
    arrays = {f"in_{k}": np.asarray(getattr(rec, k)) for k in _ARRAYS}
    arrays.update({f"out_{k}": np.asarray(v) for k, v in rec.stored.items()})
    meta = {"netuid": rec.netuid, "block": rec.block, "hotkeys": rec.hotkeys, "rao_emission": int(rec.rao_emission),
            "hyperparameters": rec.hyperparameters.as_dict(), "variant": rec.variant, "owner_uid": rec.owner_uid}
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def decode_record(blob: bytes) -> EpochRecord:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        return EpochRecord(
            netuid=meta["netuid"], block=meta["block"], hotkeys=meta["hotkeys"], rao_emission=meta["rao_emission"],
            hyperparameters=Hyperparameters(**meta["hyperparameters"]), variant=meta.get("variant", "spec148"),
            owner_uid=meta.get("owner_uid"),
            stored={k[4:]: z[k] for k in z.files if k.startswith("out_")},
            **{k: z[f"in_{k}"] for k in _ARRAYS})
