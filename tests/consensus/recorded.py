"""Checks shared by the replays of epochs recorded from real runtimes (recordings/ for spec 148,
recordings293/ for spec 293): each returns what it found wrong, so a test asserts it is empty."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np


def load(folder: str) -> dict[str, dict]:
    """scenario name -> recording, from tests/consensus/<folder>/*.json."""
    return {f.stem: json.loads(f.read_text()) for f in sorted((Path(__file__).parent / folder).glob("*.json"))}


def chain_breaks(epochs: list[dict]) -> list[int]:
    """Epochs whose input bonds or permits are not what the epoch before stored (no extrinsic touches them)."""
    return [k + 1 for k, (prev, nxt) in enumerate(zip(epochs, epochs[1:]))
            if nxt["inputs"]["bonds"] != prev["outputs"]["Bonds"]
            or nxt["inputs"]["validator_permit"] != prev["outputs"]["ValidatorPermit"]]


def over_tolerance(epochs: list[dict], max_diffs: Callable[[dict], dict[str, int]], tol: dict[str, int]) -> list[str]:
    """One line per epoch where some field's max |ours - runtime| exceeds its tolerance (default 0)."""
    out = []
    for k, epoch in enumerate(epochs):
        over = {f: d for f, d in max_diffs(epoch).items() if d > tol.get(f, 0)}
        if over:
            out.append(f"epoch {k} (block {epoch['block']}): {over}")
    return out


def active_mismatches(epochs: list[dict]) -> list[int]:
    """Epochs whose stored Active is not last_update + activity_cutoff >= the epoch's block."""
    out = []
    for k, epoch in enumerate(epochs):
        i = epoch["inputs"]
        active = np.array(i["last_update"]) + i["activity_cutoff"] >= i["current_block"]
        if active.astype(int).tolist() != epoch["outputs"]["Active"]:
            out.append(k)
    return out
