"""Record Yuma epochs from the real spec-293 (dTAO, July 2025) subtensor runtime as small raw-integer JSON files.

    python scripts/record_spec293.py [--out tests/consensus/recordings293] [--only NAME ...] [--chain-spec PATH]

Same procedure and file layout as scripts/record_spec148.py (whose Recorder, JSON writer and driver
this reuses): Chopsticks on the spec-293 chain spec, relaxed, rewound per scenario to the relaxed
state; a new subnet (tempo 10, start_call done; the owner's hotkey //Alice sits at uid 0) with
commit-reveal off so weights are set directly. For every epoch block B the epoch's inputs as stored
at B-1 and its outputs as stored at B (raw storage values, u16 vectors as stored).

The reader is the audit's (chain/subtensor/epoch.py `read_raw`). Inputs the spec-293 epoch reads
(pallets/subtensor/src/epoch/run_epoch.rs `epoch`): per uid the
alpha stake on the subnet (TotalHotkeyAlpha; no child keys here), the TAO stake (TotalHotkeyAlpha on
root) and the global TaoWeight (u64, x / u64::MAX), the global StakeThreshold, the owner's uid
(SubnetOwnerHotkey), weights, bonds, permits, LastUpdate, BlockAtRegistration, and the hyperparameters
Kappa, BondsPenalty, BondsMovingAverage, Yuma3On, LiquidAlphaOn, AlphaValues, AlphaSigmoidSteepness,
MaxAllowedValidators, ActivityCutoff, Tempo (and BondsResetOn, which the epoch does not read). The
epoch's emission amount is PendingEmission + PendingAlphaSwapped after block B's coinbase, which no
storage shows; the files keep both as stored at B-1 (the test adds block B's share, 1/tempo of it).
Stake is bought through the subnet's pool, so the TAO amounts below become very unequal alpha.
tests/consensus/test_consensus_spec293_recorded.py replays them through consensus.run_epoch.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record_spec148 import TAO, Recorder, main  # noqa: E402

from chain.subtensor.epoch import read_raw  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "consensus" / "recordings293"


class Recorder293(Recorder):
    key_prefix = "spec293"

    def __init__(self, chain, name: str):
        super().__init__(chain, name)
        self.hyper(commit_reveal_enabled=False, min_allowed_weights=1)

    def admin(self, call: str, **params) -> None:
        """An AdminUtils setter the Hyperparameters table does not cover (Yuma3On, LiquidAlphaOn, ...)."""
        self.submit("AdminUtils", call, {"netuid": self.netuid, **params}, self.alice, sudo=True)

    def stake(self, **tao: int) -> None:
        """Buy alpha on this subnet for each hotkey (coldkey //Alice), `tao` TAO each."""
        calls = [self.chain.compose_call("SubtensorModule", "add_stake",
                                         {"hotkey": self.keys[n].ss58_address, "netuid": self.netuid,
                                          "amount_staked": a * TAO})
                 for n, a in tao.items()]
        self.submit("Utility", "batch_all", {"calls": calls}, self.alice)

    def commit(self, name: str, w: dict[int, int], salt: list[int]) -> None:
        self._clear_epoch()
        self.chain.commit_weights(self.netuid, self.keys[name], list(w), list(w.values()), salt)

    def reveal(self, name: str, w: dict[int, int], salt: list[int]) -> None:
        self._clear_epoch()
        self.chain.reveal_weights(self.netuid, self.keys[name], list(w), list(w.values()), salt)

    def read_epoch(self, b: int) -> dict:
        return read_raw(self.chain, self.netuid, b)


# --- scenarios ----------------------------------------------------------------------------------
QUALITY = [50000, 30000, 12000]


def _dense(r: Recorder293, validators, miners, epochs: int, skew: dict | None = None) -> None:
    """Each validator weights the miners by QUALITY plus per-validator noise; `skew` replaces a
    validator's row (e.g. an outlier the consensus clips)."""
    for e in range(epochs):
        for k, v in enumerate(validators):
            noise = [(7919 * (e + 1) * (k + 3) * (j + 1)) % 6000 for j in range(len(QUALITY))]
            row = (skew or {}).get(v) or [q + d for q, d in zip(QUALITY, noise)]
            r.weights(v, dict(zip(miners, row)))
        r.next_epoch()


def _basic(r: Recorder293, *, yuma3: bool = False, liquid_alpha: bool = False, penalty: int | None = None) -> list[int]:
    if yuma3:
        r.admin("sudo_set_yuma3_enabled", enabled=True)
    if liquid_alpha:
        r.admin("sudo_set_liquid_alpha_enabled", enabled=True)
    if penalty is not None:
        r.admin("sudo_set_bonds_penalty", bonds_penalty=penalty)
    u = r.register("v0", "v1", "m0", "m1", "m2")
    r.stake(v0=1000, v1=400)
    r.next_epoch()  # no weights yet
    return [u[f"m{j}"] for j in range(3)]


def healthy(r: Recorder293) -> str:
    miners = _basic(r)
    _dense(r, ("v0", "v1"), miners, 3)
    return ("2 validators (1000 then 400 TAO staked: ~90 and ~2.4 alpha through the pool), 3 miners, "
            "dense weights with noise; Yuma3 off (default)")


def yuma3(r: Recorder293) -> str:
    miners = _basic(r, yuma3=True)
    _dense(r, ("v0", "v1"), miners, 3)
    return "as healthy with Yuma3On"


def liquid_alpha(r: Recorder293) -> str:
    miners = _basic(r, yuma3=True, liquid_alpha=True)
    _dense(r, ("v0", "v1"), miners, 3, skew={"v1": [10000, 60000, 30000]})
    return "Yuma3On and LiquidAlphaOn (default AlphaValues), v1 disagrees with v0 on m0/m1"


def penalty0(r: Recorder293) -> str:
    miners = _basic(r, penalty=0)
    _dense(r, ("v0", "v1"), miners, 3, skew={"v1": [10000, 60000, 30000]})
    return "BondsPenalty 0 (bonds from unclipped weights), v1 outvoted on m1"


def penalty1(r: Recorder293) -> str:
    miners = _basic(r, penalty=65535)
    _dense(r, ("v0", "v1"), miners, 3, skew={"v1": [10000, 60000, 30000]})
    return "BondsPenalty 65535 (bonds from clipped weights), v1 outvoted on m1"


def commit_reveal(r: Recorder293) -> str:
    r.hyper(commit_reveal_enabled=True, commit_reveal_period=1)
    miners = _basic(r)
    salts = {"v0": [11, 12, 13], "v1": [21, 22, 23]}
    pending: dict[str, list[int]] = {}
    for e in range(4):
        for k, v in enumerate(("v0", "v1")):
            if v in pending:
                r.reveal(v, dict(zip(miners, pending.pop(v))), salts[v])
            if e < 3:
                noise = [(7919 * (e + 1) * (k + 3) * (j + 1)) % 6000 for j in range(len(QUALITY))]
                pending[v] = [q + d for q, d in zip(QUALITY, noise)]
                r.commit(v, dict(zip(miners, pending[v])), salts[v])
        r.next_epoch()
    return ("as healthy with commit-reveal on (reveal period 1): each epoch's weights are the ones committed "
            "the epoch before and revealed at its start")


def copier(r: Recorder293) -> str:
    u = r.register("v0", "v1", "copier", "m0", "m1", "m2")
    miners = [u[f"m{j}"] for j in range(3)]
    r.stake(v0=900, v1=600, copier=500)
    r.next_epoch()
    for e in range(3):
        best = e % 3
        for k, v in enumerate(("v0", "v1")):
            r.weights(v, {m: (65535 if j == best else 8000 + 3000 * ((j + k) % 3)) for j, m in enumerate(miners)})
        consensus = r.chain.query("Consensus", [r.netuid]) or []
        prev = {m: int(consensus[m]) for m in miners if m < len(consensus) and consensus[m] > 0}
        r.weights("copier", prev or {m: 1 for m in miners})  # the previous epoch's consensus
        r.next_epoch()
    return "2 honest validators moving their favourite miner each epoch, a copier submitting the last consensus"


def reregistered(r: Recorder293) -> str:
    r.hyper(max_allowed_uids=6, immunity_period=1)
    u = r.register("v0", "v1", "m0", "m1", "m2")  # with the owner at uid 0: 6 uids, full
    miners = [u[f"m{j}"] for j in range(3)]
    r.stake(v0=1000, v1=700)
    r.next_epoch()
    table = {"v0": [40000, 30000, 1000], "v1": [35000, 40000, 2000]}
    for v, row in table.items():
        r.weights(v, dict(zip(miners, row)))
    r.next_epoch()
    r.next_epoch()
    new = r.register("newcomer")["newcomer"]  # replaces the lowest pruning score
    logging.info("%s: newcomer took uid %s", r.name, new)
    r.weights("v0", dict(zip(miners, [40000, 30000, 30000])))
    r.next_epoch()
    r.next_epoch()
    return "max_allowed_uids 6, full subnet: a new hotkey replaces the weakest uid; v0 re-weights at once, v1 never"


def threshold(r: Recorder293) -> str:
    u = r.register("v0", "v1", "m0", "m1", "m2")
    miners = [u[f"m{j}"] for j in range(3)]
    r.stake(v1=1000, v0=1000)
    alpha = {k: int(r.chain.query("TotalHotkeyAlpha", [hk, r.netuid]) or 0)
             for k, hk in (("owner", r.alice.ss58_address), ("v0", r.keys["v0"].ss58_address),
                           ("v1", r.keys["v1"].ss58_address))}
    thr = min(alpha["v0"], alpha["v1"]) // 2
    logging.info("%s: alpha %s, StakeThreshold %d", r.name, alpha, thr)
    if alpha["owner"] >= thr:
        raise RuntimeError(f"the owner's alpha {alpha['owner']} is not below the threshold {thr}")
    r.submit("AdminUtils", "sudo_set_stake_threshold", {"min_stake": thr}, r.alice, sudo=True)
    r.next_epoch()
    _dense(r, ("v0", "v1"), miners, 2)
    return ("global StakeThreshold set to half the smaller validator's alpha: the owner (uid 0), below it, "
            "loses its stake weight and permit (no owner exemption on spec 293)")


SCENARIOS: dict[str, Callable[[Recorder293], str]] = {
    "healthy": healthy, "yuma3": yuma3, "liquid_alpha": liquid_alpha, "penalty0": penalty0,
    "penalty1": penalty1, "commit_reveal": commit_reveal, "copier": copier, "reregistered": reregistered,
    "threshold": threshold,
}

if __name__ == "__main__":
    sys.exit(main(doc=__doc__, out=OUT, scenarios=SCENARIOS, recorder=Recorder293, runtime=293))
