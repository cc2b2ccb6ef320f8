"""`WeightSubmitter`: the whole "maybe put weights on chain" decision, synchronous and self-contained.

Each `submit(metagraph, scores)` call decides one thing against the chain's current block:
- commit-reveal off: set_weights once per `interval_blocks`, after the pre-check (chain.weights);
- hash commit-reveal: reveal the pending commit once its reveal window is open, else commit new
  weights (one commit in flight at a time, so never TooManyUnrevealedCommits);
- drand-timelocked commit-reveal (mode auto on runtimes with `commit_timelocked_weights`, or mode
  timelock): commit a ciphertext that the chain itself decrypts once the drand round is out.

Pending commits (weights, salt, hash or ciphertext, commit block) live in `weights.json` in the
validator's state directory, written atomically (temp file, fsync, rename, fsync dir) BEFORE each
extrinsic and after it. After a SIGKILL at any instant the record says what may be on chain and the
chain's own commit list (`Chain.weight_commits`) says what is: a commit that landed is revealed, one
still in the node's transaction pool (`Chain.pending_extrinsics`) is waited for, one that did not land
is dropped, and a new commit is never sent while one is unresolved — no lost reveal, no double commit.
"Why not" is logged once when the reason changes, not on every call.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from chain import Chain
from chain.errors import ChainConnectionError, ChainError, UnsupportedError
from chain.types import Hyperparameters, Metagraph
from chain.weights import explain_weights_rejection, reveal_epoch, scores_to_u16

log = logging.getLogger("opensubnet.validator.weights")

SALT_LEN = 8
FORMAT = 1


@dataclass
class PendingCommit:
    kind: str                      # "hash" | "timelock"
    status: str                    # "committing" (sent, maybe not landed) | "committed" | "revealing"
    uids: list[int]
    values: list[int]
    version_key: int
    digest: str                    # commit hash (hash) or blake2-256 of the ciphertext (timelock), 0x-hex
    sent_at: int                   # head when the commit was sent
    block: int = -1                # block the chain recorded the commit in (-1: not yet known)
    salt: list[int] = field(default_factory=list)
    reveal_round: int = 0          # drand round (timelock)


@dataclass
class SubmitterState:
    pending: PendingCommit | None = None
    last_weights_block: int = -1   # block of the last accepted set_weights / commit (-1: never)


class PendingStore:
    """Atomic JSON file: survives a SIGKILL at any instant whole (the old or the new content)."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.path = self.dir / "weights.json"

    def load(self) -> SubmitterState:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return SubmitterState()
        except (OSError, ValueError) as e:
            raise ChainError(f"{self.path} is unreadable: {e}",
                             hint=f"move {self.path} away (pending weight commits in it will not be revealed)") from e
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ChainError(f"{self.path} is not a weights file of format {FORMAT}", hint=f"move {self.path} away")
        pending = data.get("pending")
        try:
            return SubmitterState(pending=PendingCommit(**pending) if pending else None,
                                  last_weights_block=int(data.get("last_weights_block", -1)))
        except TypeError as e:
            raise ChainError(f"{self.path} has an unexpected pending commit: {e}", hint=f"move {self.path} away") from e

    def save(self, state: SubmitterState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".weights.{os.getpid()}.tmp"
        body = {"format": FORMAT, "last_weights_block": state.last_weights_block,
                "pending": asdict(state.pending) if state.pending else None}
        with open(tmp, "w") as f:
            json.dump(body, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _blake(data: bytes) -> str:
    return "0x" + hashlib.blake2b(data, digest_size=32).hexdigest()


class WeightSubmitter:
    """One validator hotkey's weights on one subnet. `interval_blocks`: the validator's own minimum
    gap between submissions (the chain's rate limit is checked separately); `timelock`: use the
    runtime's drand-timelocked commit where it has one (the chain then reveals by itself)."""

    def __init__(self, chain: Chain, netuid: int, hotkey, state_dir: str | os.PathLike, *,
                 interval_blocks: int, mode: str = "auto", block_time_s: float = 12.0, since_block: int = -1):
        if mode not in ("auto", "hash", "timelock"):
            raise ValueError(f"commit-reveal mode {mode!r}: use auto, hash or timelock")
        self.chain, self.netuid, self.hotkey = chain, netuid, hotkey
        self.interval = int(interval_blocks)
        self.mode = mode
        self.block_time_s = block_time_s
        self.store = PendingStore(state_dir)
        self.state = self.store.load()
        if self.state.last_weights_block < since_block:   # a state dir from before this file existed
            self.state.last_weights_block = since_block
        self._reason: str | None = None   # the kind of the last "why not", logged once per change
        if self.state.pending is not None:
            p = self.state.pending
            log.info("pending %s commit from block %d (%s) found in %s: it will be checked against the chain",
                     p.kind, p.block if p.block >= 0 else p.sent_at, p.status, self.store.path)

    @property
    def last_weights_block(self) -> int:
        return self.state.last_weights_block

    @property
    def why_not(self) -> str | None:
        """The kind of the last reason weights were not submitted (None after a submission)."""
        return self._reason

    # --- logging -----------------------------------------------------------------------------
    def _why_not(self, kind: str, block: int, message: str) -> None:
        """Log a reason for not submitting once when its kind changes; debug otherwise."""
        level = logging.INFO if kind != self._reason else logging.DEBUG
        self._reason = kind
        log.log(level, "weights not submitted at block %d: %s", block, message)

    def _did(self) -> None:
        self._reason = None

    def _save(self) -> None:
        self.store.save(self.state)

    # --- the decision ------------------------------------------------------------------------
    def submit(self, mg: Metagraph, scores: Sequence[float] | np.ndarray) -> None:
        """Do whatever is due now (set, commit, or reveal), or log why nothing is. Chain connection
        errors propagate (the caller retries the step); refusals are logged and retried later."""
        block = self.chain.block()
        hp = self.chain.hyperparameters(self.netuid)
        if self.state.pending is not None or hp.commit_reveal_enabled:
            if self._resolve_pending(mg, hp, block):
                return
        if self.state.last_weights_block >= 0 and block - self.state.last_weights_block < self.interval:
            left = self.interval - (block - self.state.last_weights_block)
            self._why_not("interval", block, f"the validator's weights interval is {self.interval} blocks; "
                                             f"next in {left}")
            return
        scores = np.asarray(scores, dtype=np.float64)  # scores: [n_uids]
        if not scores.any():
            self._why_not("no-scores", block, "no miner's score is confidently above 0 yet "
                                              "(the bound is mean - scoring.confidence_z standard errors)")
            return
        uids, values = scores_to_u16(scores, min_allowed_weights=hp.min_allowed_weights,
                                     max_weight_limit=hp.max_weight_limit)
        # judged at the current block, the earliest an extrinsic can land in: never inside a rate limit
        reason = explain_weights_rejection(mg, hp, self.hotkey.ss58_address, uids, values, hp.weights_version,
                                           block=block, commit=hp.commit_reveal_enabled)
        if reason:
            self._why_not(reason.split(":")[0], block, reason)
            return
        if hp.commit_reveal_enabled and self.mode == "timelock" and self.chain.timelock_call() is None:
            self._why_not("no-timelock", block, "validator.commit_reveal is timelock but this runtime has no "
                                                "drand-timelocked commits: set it to auto or hash")
            return
        if not hp.commit_reveal_enabled:
            self._set(block, uids, values, hp)
        elif self._use_timelock():
            self._commit_timelocked(block, uids, values, hp)
        else:
            self._commit_hash(block, uids, values, hp)

    def _use_timelock(self) -> bool:
        """auto: timelocked where the runtime has v4 `commit_timelocked_weights` (today's chain); spec
        293's CRv3 only when asked (`timelock`), since a chain without drand pulses never reveals it."""
        call = self.chain.timelock_call()
        return call is not None and (self.mode == "timelock" or call == "commit_timelocked_weights"
                                     and self.mode == "auto")

    # --- direct weights ----------------------------------------------------------------------
    def _set(self, block: int, uids: list[int], values: list[int], hp: Hyperparameters) -> None:
        try:
            self.chain.set_weights(self.netuid, self.hotkey, uids, values, version_key=hp.weights_version)
        except ChainConnectionError:
            raise
        except ChainError as e:
            log.warning("weights rejected at block %d: %s (retrying later)", block, e)
            return
        self.state.last_weights_block = block
        self._save()
        self._did()
        log.info("weights set at block %d on %d uids: %s", block, len(uids),
                 ", ".join(f"{u}={v}" for u, v in zip(uids, values)))

    # --- hash commit-reveal -----------------------------------------------------------------
    def _commit_hash(self, block: int, uids: list[int], values: list[int], hp: Hyperparameters) -> None:
        from chain.subtensor.commit import commit_hash
        salt = [secrets.randbelow(1 << 16) for _ in range(SALT_LEN)]
        digest = commit_hash(self.hotkey.public_key, self.netuid, uids, values, salt, hp.weights_version)
        self.state.pending = PendingCommit("hash", "committing", uids, values, hp.weights_version, digest,
                                           sent_at=block, salt=salt)
        self._save()                                   # before the extrinsic: a kill after it loses nothing
        try:
            digest = self.chain.commit_weights(self.netuid, self.hotkey, uids, values, salt,
                                               version_key=hp.weights_version)
        except ChainConnectionError:
            raise                                      # unknown outcome: resolved from the chain next time
        except ChainError as e:
            self.state.pending = None
            self._save()
            log.warning("weights commit rejected at block %d: %s (retrying later)", block, e)
            return
        self.state.pending.digest = digest or self.state.pending.digest   # as this runtime hashes it
        self._confirm_commit(block)

    def _confirm_commit(self, block: int) -> None:
        p = self.state.pending
        landed = dict(self.chain.weight_commits(self.netuid, self.hotkey.ss58_address))
        at = landed.get(p.digest, -1)
        p.status, p.block = "committed", at if at >= 0 else block
        self.state.last_weights_block = p.block
        self._save()
        self._did()
        hp = self.chain.hyperparameters(self.netuid)
        opens = _window_start(p.block, self.netuid, hp)
        log.info("weights committed at block %d on %d uids (%s); reveal from block %d", p.block, len(p.uids),
                 p.kind, opens)

    def _in_pool(self, p, hp: Hyperparameters, block: int) -> bool:
        """True (and "why not" logged) while a commit that is in no block yet may still land from the
        node's transaction pool. Waited for at most its reveal period: a commit landing later could
        not be revealed anyway, and an extrinsic stuck in the pool must not stop weights for good."""
        if block - p.sent_at > (hp.commit_reveal_period + 1) * (hp.tempo + 1):
            return False
        if not self.chain.pending_extrinsics(self.hotkey.ss58_address):
            return False
        self._why_not("commit-in-pool", block, f"the {p.kind} commit sent at block {p.sent_at} waits in the "
                                               "node's transaction pool: not committing again")
        return True

    def _resolve_pending(self, mg: Metagraph, hp: Hyperparameters, block: int) -> bool:
        """Move the pending commit on (confirm, reveal, drop). True: this call's work is done."""
        p = self.state.pending
        if p is None:
            return False
        if p.kind == "timelock":
            return self._resolve_timelocked(hp, block)
        landed = dict(self.chain.weight_commits(self.netuid, self.hotkey.ss58_address))
        if p.status == "committing":                   # killed or cut off around the commit
            candidates = _candidate_digests(self.hotkey.public_key, self.netuid, p)
            if not any(d in landed for d in candidates):
                # not in a block yet: it may still wait in the node's pool (a real chain builds a block
                # every 12 s, a restart takes less); a fresh commit now would put two on chain, and the
                # first, its record replaced, would never be revealed. Pool first, then the chain again,
                # so a commit included in between is seen.
                if self._in_pool(p, hp, block):
                    return True
                landed = dict(self.chain.weight_commits(self.netuid, self.hotkey.ss58_address))
            p.digest = next((d for d in candidates if d in landed), p.digest)
            if p.digest not in landed:
                log.info("the commit sent at block %d never landed: committing afresh", p.sent_at)
                self.state.pending = None
                self._save()
                return False
            p.status, p.block = "committed", landed[p.digest]
            self.state.last_weights_block = p.block
            self._save()
            log.info("the commit sent at block %d is on chain (block %d): it will be revealed", p.sent_at, p.block)
        if p.digest not in landed:                     # revealed (a kill after the reveal) or expired
            was = "revealed" if p.status == "revealing" else "gone from the chain (expired)"
            self.state.pending = None
            self._save()
            log.info("the commit from block %d is %s", p.block, was)
            return False
        start = _window_start(p.block, self.netuid, hp)
        if reveal_epoch(block, self.netuid, hp.tempo) < reveal_epoch(start, self.netuid, hp.tempo):
            self._why_not("reveal-wait", block, f"the commit from block {p.block} can be revealed from block {start}")
            return True
        reason = explain_weights_rejection(mg, hp, self.hotkey.ss58_address, p.uids, p.values, p.version_key,
                                           block=block, commit=True)
        if reason and not reason.startswith("too soon"):   # the reveal itself has no rate limit
            self._why_not("reveal-" + reason.split(":")[0], block, f"reveal held back: {reason}")
            return True
        p.status = "revealing"
        self._save()
        try:
            self.chain.reveal_weights(self.netuid, self.hotkey, p.uids, p.values, p.salt, version_key=p.version_key)
        except ChainConnectionError:
            raise
        except ChainError as e:
            if e.name in ("ExpiredWeightCommit", "NoWeightsCommitFound"):
                self.state.pending = None
                log.warning("reveal of the commit from block %d refused: %s; committing afresh", p.block, e)
            else:
                p.status = "committed"
                log.warning("reveal refused at block %d: %s (retrying later)", block, e)
            self._save()
            return True
        self.state.pending = None
        self._save()
        self._did()
        log.info("weights revealed at block %d on %d uids (committed at block %d): %s", block, len(p.uids), p.block,
                 ", ".join(f"{u}={v}" for u, v in zip(p.uids, p.values)))
        return True

    # --- drand-timelocked commits ------------------------------------------------------------
    def _commit_timelocked(self, block: int, uids: list[int], values: list[int], hp: Hyperparameters) -> None:
        from chain.subtensor import timelock
        call = self.chain.timelock_call()
        start = _window_start(block, self.netuid, hp)
        reveal_round = timelock.round_at(time.time() + (start - block) * self.block_time_s)
        payload = timelock.weights_payload(uids, values, hp.weights_version,
                                           hotkey=self.hotkey.public_key if call == "commit_timelocked_weights" else None)
        ciphertext = timelock.encrypt(payload, reveal_round)
        self.state.pending = PendingCommit("timelock", "committing", uids, values, hp.weights_version,
                                           _blake(ciphertext), sent_at=block, reveal_round=reveal_round)
        self._save()
        try:
            self.chain.commit_timelocked_weights(self.netuid, self.hotkey, ciphertext, reveal_round)
        except ChainConnectionError:
            raise
        except (ChainError, UnsupportedError) as e:
            self.state.pending = None
            self._save()
            log.warning("timelocked weights commit rejected at block %d: %s (retrying later)", block, e)
            return
        self._confirm_commit(block)

    def _resolve_timelocked(self, hp: Hyperparameters, block: int) -> bool:
        """The chain reveals timelocked commits itself: wait while ours is on chain, then forget it."""
        p = self.state.pending
        landed = dict(self.chain.weight_commits(self.netuid, self.hotkey.ss58_address))
        if p.digest not in landed and p.status == "committing":   # maybe still in the pool (see above)
            if self._in_pool(p, hp, block):
                return True
            landed = dict(self.chain.weight_commits(self.netuid, self.hotkey.ss58_address))
        if p.digest in landed:
            if p.status == "committing":
                p.status = "committed"
                p.block = landed[p.digest] if landed[p.digest] >= 0 else p.sent_at
                self.state.last_weights_block = p.block
                self._save()
            self._why_not("timelock-wait", block, f"the timelocked commit from block {p.block} waits for drand "
                                                  f"round {p.reveal_round}")
            return True
        if p.status == "committing":
            log.info("the timelocked commit sent at block %d never landed: committing afresh", p.sent_at)
        else:
            log.info("the timelocked commit from block %d was revealed by the chain (or expired)", p.block)
        self.state.pending = None
        self._save()
        return False


def _candidate_digests(public_key: bytes, netuid: int, p: PendingCommit) -> list[str]:
    """The commit's hash as salted runtimes compute it, and as spec 185 (no salt) did."""
    from chain.subtensor.commit import commit_hash
    return [commit_hash(public_key, netuid, p.uids, p.values, salt, p.version_key) for salt in (p.salt, None)]


def _window_start(commit_block: int, netuid: int, hp: Hyperparameters) -> int:
    """First block of the reveal window of a commit in `commit_block` (epoch index + reveal period)."""
    epoch = reveal_epoch(commit_block, netuid, hp.tempo) + hp.commit_reveal_period
    return max(epoch * (hp.tempo + 1) - (netuid + 1), 0)
