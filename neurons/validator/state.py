"""The validator's persistent state, saved atomically and loaded with validation and a fallback.

Files in the state directory: `state.pt` (current) and `state.prev.pt` (the one before). A save
writes a temp file in the same directory, fsyncs it, points `state.prev.pt` at the current file,
renames the temp file over `state.pt` and fsyncs the directory: after a crash at any instant,
`state.pt` is the old or the new state, whole. Only plain tensors, dicts, lists, str, int, float
and None are stored, and files are read with `torch.load(weights_only=True)`.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from neurons.validator.moe import check_state_dict

log = logging.getLogger(__name__)

FORMAT = 1


class StateError(Exception):
    """A validator state problem; `hint` says what the operator can do."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class StateCorruptError(StateError):
    """A state file is truncated, unreadable or inconsistent."""


@dataclass
class ValidatorState:
    moe: dict                          # MoE.state_dict(): hotkeys, score EMA, gate, optimizer, rng
    step: int = 0
    last_weights_block: int = -1       # block of the last accepted set_weights (-1: never)
    last_seed: int | None = None       # seed of the last challenge, to replay it

    def to_dict(self) -> dict:
        return {"format": FORMAT, "step": self.step, "last_weights_block": self.last_weights_block,
                "last_seed": self.last_seed, "moe": self.moe}

    @classmethod
    def from_dict(cls, data: object) -> "ValidatorState":
        """Validate loaded data; ValueError says what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a validator state of format {FORMAT}")
        step, block, seed = data.get("step"), data.get("last_weights_block"), data.get("last_seed")
        if not (_is_int(step) and step >= 0 and _is_int(block) and (seed is None or _is_int(seed))):
            raise ValueError("step, last_weights_block and last_seed must be integers (step >= 0)")
        check_state_dict(data.get("moe"))
        return cls(moe=data["moe"], step=step, last_weights_block=block, last_seed=seed)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class StateStore:
    """Atomic save / validated load of a ValidatorState in one directory."""

    def __init__(self, directory: str | os.PathLike, name: str = "state"):
        self.dir = Path(directory)
        self.path = self.dir / f"{name}.pt"
        self.prev_path = self.dir / f"{name}.prev.pt"
        self._tmp_prefix = f".{name}."

    def save(self, state: ValidatorState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f"{self._tmp_prefix}{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            torch.save(state.to_dict(), f)
            f.flush()
            os.fsync(f.fileno())
        if self.path.exists():
            self._keep_previous()
        os.replace(tmp, self.path)
        _fsync_dir(self.dir)

    def load(self) -> ValidatorState | None:
        """The saved state, the previous one if the current is damaged, or None if there is none."""
        self._remove_stale_tmp()
        if not self.path.exists() and not self.prev_path.exists():
            return None
        try:
            return read_state(self.path)
        except FileNotFoundError:
            current_error = None
        except StateCorruptError as e:
            current_error = e
        try:
            state = read_state(self.prev_path)
        except (FileNotFoundError, StateCorruptError) as e:
            raise StateCorruptError(
                f"no usable validator state in {self.dir}: {current_error or 'state.pt missing'}; previous: {e}",
                hint=f"restore a backup, or move {self.dir} away to start with fresh scores and gate",
            ) from e
        if current_error is not None:  # keep the bad file aside, so the next save cannot rotate it into prev
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            _fsync_dir(self.dir)
        log.warning("validator state %s unusable (%s); resumed from %s at step %d",
                    self.path.name, current_error or "missing", self.prev_path.name, state.step)
        return state

    def _keep_previous(self) -> None:
        """Atomically make prev the current file (a hard link, or a copy where links are unsupported)."""
        tmp = self.dir / f"{self._tmp_prefix}prev.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        try:
            os.link(self.path, tmp)
        except OSError:
            shutil.copyfile(self.path, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, self.prev_path)

    def _remove_stale_tmp(self) -> None:
        for tmp in self.dir.glob(f"{self._tmp_prefix}*.tmp"):
            pid = tmp.name.removesuffix(".tmp").rsplit(".", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                tmp.unlink(missing_ok=True)


def read_state(path: Path) -> ValidatorState:
    """Load and validate one state file; StateCorruptError on any damage (FileNotFoundError if absent)."""
    try:
        with open(path, "rb") as f:
            data = torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - torch/zip/pickle raise many types for damaged files
        raise StateCorruptError(f"{path.name} is unreadable: {type(e).__name__}: {str(e)[:200]}") from e
    try:
        return ValidatorState.from_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise StateCorruptError(f"{path.name} is inconsistent: {e}") from e


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
