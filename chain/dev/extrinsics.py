"""The dev ledger's extrinsics: subtensor's rules and error names for what the ledger implements.

Each function runs inside the write transaction of the block `block` it lands in and raises the
runtime's typed error (chain.errors.error_from_name) where subtensor would. Checks follow the
runtime's order (pallets/subtensor: registration.rs, staking.rs, serving.rs, weights.rs,
AdminUtils), so both backends fail the same way on the same input.
"""
from __future__ import annotations

import ipaddress
import sqlite3
from typing import Sequence

from chain.axon_ip import parse_axon_ip
from chain.dev import state
from chain.dev.store import encode_row
from chain.errors import ChainError, error_from_name
from chain.types import U16_MAX, Hyperparameters
from chain.weights import WeightsCall, reveal_epoch, weights_violation

MAX_UNREVEALED_COMMITS = 10
# AdminUtils setters the subnet owner may call; the others need the sudo key (root origin)
OWNER_SETTABLE = {
    "min_allowed_weights", "max_weight_limit", "weights_rate_limit", "weights_version", "commit_reveal_enabled",
    "commit_reveal_period", "activity_cutoff", "immunity_period", "kappa", "bonds_moving_average",
    "registration_allowed", "serving_rate_limit", "min_allowed_stake", "bonds_penalty", "yuma3", "liquid_alpha",
    "alpha_sigmoid_steepness",
}


def transfer(db: sqlite3.Connection, block: int, signer: str, dest: str, amount: int) -> None:
    if amount <= 0:
        raise ChainError(f"transfer amount must be positive (got {amount})", hint="amounts are in rao (1 TAO = 1e9)")
    state.withdraw(db, signer, amount, "InsufficientBalance")
    state.deposit(db, dest, amount)


def create_subnet(db: sqlite3.Connection, block: int, owner: str, hotkey: str | None, lock_cost: int,
                  defaults: Hyperparameters) -> int:
    taken = {r[0] for r in db.execute("SELECT netuid FROM subnets")}
    netuid = next(i for i in range(1, len(taken) + 2) if i not in taken)  # netuid 0 is the root network
    state.burn(db, owner, lock_cost, "NotEnoughBalanceToStake")
    db.execute("INSERT INTO subnets(netuid, owner, owner_hotkey, created, params, last_epoch) VALUES(?,?,?,?,?,?)",
               (netuid, owner, hotkey, block, "{}", block))
    state.save_hparams(db, netuid, defaults)
    return netuid


def register(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, coldkey: str) -> int:
    """burned_register: append a uid, or replace the lowest-emission non-immune uid when full."""
    hp = state.hparams(db, netuid)
    if not hp.registration_allowed:
        raise error_from_name("SubNetRegistrationDisabled", f"netuid {netuid}")
    this_block = db.execute("SELECT COUNT(*) FROM registrations WHERE netuid=? AND block=?", (netuid, block)).fetchone()[0]
    if this_block >= hp.max_registrations_per_block:
        raise error_from_name("TooManyRegistrationsThisBlock", f"{this_block} this block")
    if state.uid_of(db, netuid, hotkey) is not None:
        raise error_from_name("HotKeyAlreadyRegisteredInSubNet", hotkey)
    state.burn(db, coldkey, hp.burn, "NotEnoughBalanceToStake")
    owner = state.owner_of(db, hotkey)
    if owner is None:
        db.execute("INSERT INTO owners(hotkey, coldkey) VALUES(?, ?)", (hotkey, coldkey))
    elif owner != coldkey:
        raise error_from_name("NonAssociatedColdKey", f"hotkey {hotkey} belongs to {owner}")
    n = state.subnet_n(db, netuid)
    if n < hp.max_allowed_uids:
        uid = n
        # append_neuron: LastUpdate starts at the registration block, so the weights rate limit counts from it
        db.execute("INSERT INTO neurons(netuid, uid, hotkey, coldkey, registered, last_update) VALUES(?,?,?,?,?,?)",
                   (netuid, uid, hotkey, coldkey, block, block))
    else:
        uid = neuron_to_prune(db, netuid, block, hp.immunity_period)
        # like subtensor's replace_neuron: the uid keeps its weights, bonds and last_update rows
        db.execute("UPDATE neurons SET hotkey=?, coldkey=?, registered=?, permit=0, consensus=0, incentive=0, "
                   "dividends=0, validator_trust=0, rank=0, emission=0, axon_ip=NULL, axon_port=0, axon_protocol=0, "
                   "axon_version=0, axon_block=0 WHERE netuid=? AND uid=?", (hotkey, coldkey, block, netuid, uid))
    db.execute("INSERT INTO registrations(netuid, block) VALUES(?, ?)", (netuid, block))
    db.execute("DELETE FROM registrations WHERE block < ?", (block,))
    return uid


def neuron_to_prune(db: sqlite3.Connection, netuid: int, block: int, immunity_period: int) -> int:
    """Lowest emission outside the immunity period (ties: oldest registration, then lowest uid);
    if every uid is immune, the same order over all of them."""
    rows = db.execute("SELECT uid, emission, registered FROM neurons WHERE netuid=?", (netuid,)).fetchall()
    mortal = [r for r in rows if block - r[2] >= immunity_period]
    uid, _, _ = min(mortal or rows, key=lambda r: (r[1], r[2], r[0]))
    return uid


def _parse_ip(ip: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    addr = parse_axon_ip(ip)  # the runtime rejects exactly 0, all-ones and localhost (so 127.0.0.2 is fine)
    return addr, addr.version


def serve_axon(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, ip: str, port: int,
               protocol: int, version: int) -> None:
    uid = state.uid_of(db, netuid, hotkey)
    if uid is None:
        raise error_from_name("HotKeyNotRegisteredInSubNet", f"{hotkey} on netuid {netuid}")
    addr, _ = _parse_ip(ip)
    if not 0 < int(port) < 65536:
        raise error_from_name("InvalidPort", str(port))
    hp = state.hparams(db, netuid)
    last = state.neuron(db, netuid, uid)[5]
    if hp.serving_rate_limit and last and block - last < hp.serving_rate_limit:
        raise error_from_name("ServingRateLimitExceeded", f"served at block {last}, limit {hp.serving_rate_limit}")
    db.execute("UPDATE neurons SET axon_ip=?, axon_port=?, axon_protocol=?, axon_version=?, axon_block=? "
               "WHERE netuid=? AND uid=?", (str(addr), int(port), int(protocol), int(version), block, netuid, uid))


def _staking_checks(db: sqlite3.Connection, coldkey: str, hotkey: str, amount: int, netuid: int) -> None:
    if netuid != state.ROOT:
        state.hparams(db, netuid)  # SubNetworkDoesNotExist
    if amount <= 0:
        raise ChainError(f"stake amount must be positive (got {amount})", hint="amounts are in rao (1 TAO = 1e9)")
    owner = state.owner_of(db, hotkey)
    if owner is None:
        raise error_from_name("HotKeyAccountNotExists", hotkey)
    if owner != coldkey:  # the dev ledger has no delegation: only the owning coldkey stakes
        raise error_from_name("NonAssociatedColdKey", f"hotkey {hotkey} belongs to {owner}")


def add_stake(db: sqlite3.Connection, block: int, coldkey: str, hotkey: str, amount: int, netuid: int) -> None:
    _staking_checks(db, coldkey, hotkey, amount, netuid)
    state.withdraw(db, coldkey, amount, "NotEnoughBalanceToStake")
    state.change_stake(db, hotkey, coldkey, amount, netuid)


def remove_stake(db: sqlite3.Connection, block: int, coldkey: str, hotkey: str, amount: int, netuid: int) -> None:
    _staking_checks(db, coldkey, hotkey, amount, netuid)
    have = state.stake_of(db, hotkey, coldkey, netuid)
    if amount > have:
        raise error_from_name("NotEnoughStakeToWithdraw", f"has {have} rao staked on subnet {netuid}")
    state.change_stake(db, hotkey, coldkey, -amount, netuid)
    state.deposit(db, coldkey, amount)


def _weights_call(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, kind: str,
                  uids: Sequence[int] = (), values: Sequence[int] = (), version_key: int = 0) -> WeightsCall:
    uid = state.uid_of(db, netuid, hotkey)
    last_update, permit = (0, False) if uid is None else tuple(state.neuron(db, netuid, uid)[3:5])
    return WeightsCall(kind=kind, netuid=netuid, n=state.subnet_n(db, netuid), uid=uid,
                       stake=state.stake_weight(db, hotkey, netuid) if uid is not None else 0, permit=bool(permit),
                       last_update=int(last_update or 0), block=block, uids=tuple(int(u) for u in uids),
                       values=tuple(int(v) for v in values), version_key=int(version_key))


def _enforce(call: WeightsCall, hp: Hyperparameters) -> None:
    """Raise the runtime's error for the first rule of chain.weights.RULES the call breaks."""
    v = weights_violation(call, hp)
    if v is not None:
        raise error_from_name(v.error, v.message)


def set_weights(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, uids: Sequence[int],
                values: Sequence[int], version_key: int, *, revealed: bool = False) -> None:
    """do_set_weights; `revealed`: called by a reveal (no rate limit, last_update unchanged)."""
    hp = state.hparams(db, netuid)
    call = _weights_call(db, block, netuid, hotkey, "reveal" if revealed else "set", uids, values, version_key)
    _enforce(call, hp)
    top = max((int(v) for v in values), default=0)
    upscaled = [int(v) * U16_MAX // top if top else 0 for v in values]  # vec_u16_max_upscale_to_u16
    db.execute("UPDATE neurons SET weights=? WHERE netuid=? AND uid=?",
               (encode_row(list(zip((int(u) for u in uids), upscaled))), netuid, call.uid))
    if not hp.commit_reveal_enabled:
        db.execute("UPDATE neurons SET last_update=? WHERE netuid=? AND uid=?", (block, netuid, call.uid))


def _live_commits(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, hp: Hyperparameters) -> tuple[list, list]:
    """(live commits [(seq, hash, block)], hashes of the expired ones, which are deleted)."""
    rows = db.execute("SELECT seq, hash, block FROM commits WHERE netuid=? AND hotkey=? ORDER BY seq",
                      (netuid, hotkey)).fetchall()
    now = reveal_epoch(block, netuid, hp.tempo)
    expired = [r for r in rows if now > reveal_epoch(r[2], netuid, hp.tempo) + hp.commit_reveal_period]
    for seq, _, _ in expired:
        db.execute("DELETE FROM commits WHERE netuid=? AND hotkey=? AND seq=?", (netuid, hotkey, seq))
    return [r for r in rows if r not in expired], [r[1] for r in expired]


def live_commits(db: sqlite3.Connection, block: int, netuid: int, hotkey: str) -> list[tuple[str, int]]:
    """(hash, commit block) of the hotkey's commits not yet revealed or expired at `block` (read only)."""
    hp = state.hparams(db, netuid)
    now = reveal_epoch(block, netuid, hp.tempo)
    rows = db.execute("SELECT hash, block FROM commits WHERE netuid=? AND hotkey=? ORDER BY seq", (netuid, hotkey))
    return [(h, int(b)) for h, b in rows if now <= reveal_epoch(b, netuid, hp.tempo) + hp.commit_reveal_period]


def commit_weights(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, digest: str) -> None:
    hp = state.hparams(db, netuid)
    call = _weights_call(db, block, netuid, hotkey, "commit")
    _enforce(call, hp)
    uid = call.uid
    live, _ = _live_commits(db, block, netuid, hotkey, hp)
    if len(live) >= MAX_UNREVEALED_COMMITS:
        raise error_from_name("TooManyUnrevealedCommits", f"{len(live)} waiting")
    seq = live[-1][0] + 1 if live else 0
    db.execute("INSERT INTO commits(netuid, hotkey, seq, hash, block) VALUES(?,?,?,?,?)", (netuid, hotkey, seq, digest, block))
    db.execute("UPDATE neurons SET last_update=? WHERE netuid=? AND uid=?", (block, netuid, uid))


def reveal_weights(db: sqlite3.Connection, block: int, netuid: int, hotkey: str, digest: str, uids: Sequence[int],
                   values: Sequence[int], version_key: int) -> None:
    hp = state.hparams(db, netuid)
    if not hp.commit_reveal_enabled:
        raise error_from_name("CommitRevealDisabled", f"netuid {netuid}")
    live, expired = _live_commits(db, block, netuid, hotkey, hp)
    if not live:
        raise error_from_name("ExpiredWeightCommit" if digest in expired else "NoWeightsCommitFound")
    match = next((r for r in live if r[1] == digest), None)
    if match is None:
        raise error_from_name("ExpiredWeightCommit" if digest in expired else "InvalidRevealCommitHashNotMatch")
    seq, _, commit_block = match
    reveal_at = reveal_epoch(commit_block, netuid, hp.tempo) + hp.commit_reveal_period
    if reveal_epoch(block, netuid, hp.tempo) != reveal_at:
        first = reveal_at * (hp.tempo + 1) - (netuid + 1)
        raise error_from_name("RevealTooEarly", f"reveal from block {first}")
    db.execute("DELETE FROM commits WHERE netuid=? AND hotkey=? AND seq<=?", (netuid, hotkey, seq))
    set_weights(db, block, netuid, hotkey, uids, values, version_key, revealed=True)


def set_hyperparameter(db: sqlite3.Connection, block: int, netuid: int, name: str, value, signer: str, sudo: str) -> None:
    hp = state.hparams(db, netuid)
    if name not in hp.as_dict():
        raise ChainError(f"unknown hyperparameter {name!r}", hint=f"one of: {', '.join(sorted(hp.as_dict()))}")
    owner, _ = state.subnet_owner(db, netuid)
    if signer != sudo and not (signer == owner and name in OWNER_SETTABLE):
        raise error_from_name("BadOrigin", f"{name} needs {'the subnet owner or ' if name in OWNER_SETTABLE else ''}sudo")
    current = getattr(hp, name)
    try:
        new = bool(value) if isinstance(current, bool) else int(value)
    except (TypeError, ValueError) as exc:
        raise ChainError(f"{name} takes an integer, got {value!r}") from exc
    if not isinstance(current, bool):
        try:
            Hyperparameters.check(name, new)
        except ValueError as exc:  # a value the epoch cannot run with would stop every block after it
            raise ChainError(str(exc), hint="see `neuron subnet hyperparameters` for the current values") from None
    if name == "max_allowed_uids" and new < state.subnet_n(db, netuid):
        raise error_from_name("MaxAllowedUIdsNotAllowed", f"the subnet already has {state.subnet_n(db, netuid)} uids")
    setattr(hp, name, new)
    state.save_hparams(db, netuid, hp)
