"""Record Yuma epochs from the real spec-148 subtensor runtime as small raw-integer JSON files.

    python scripts/record_spec148.py [--out tests/consensus/recordings] [--only NAME ...] [--chain-spec PATH]

Starts its own Chopsticks (free port, temp state dir, stopped at the end) from the spec-148 chain
spec (the cache, $OPENSUBNET_CHAIN_SPEC or --chain-spec), relaxes it with the real sudo calls, and
for each scenario rewinds to that relaxed state, creates subnet 1 (tempo 10, root-weighted so it
earns emission), builds the scenario through real extrinsics and advances blocks. For every epoch
block B it writes the epoch's inputs as stored at B-1 and its outputs as stored at B (the epoch
runs in B's on_initialize, before B's extrinsics; no extrinsic is ever placed in an epoch block).

Output: one JSON per scenario, `{"scenario", "description", "spec_version", "netuid", "tempo",
"epochs": [{"block", "inputs": {...}, "outputs": {...}}]}` with u16 ratios, u64 rao and block
numbers as plain integers (weights and bonds as dense n x n rows). tests/consensus/
test_consensus_spec148_recorded.py replays them through consensus.run_epoch.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from substrateinterface import Keypair

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chain.errors import ChainError, ExtrinsicError  # noqa: E402
from chain.localnet import process  # noqa: E402
from chain.localnet.bootstrap import relax_chain, sudo_key  # noqa: E402
from chain.localnet.local import LocalChain  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "consensus" / "recordings"
TAO = 10**9
U16 = 65535


class Recorder:
    """One scenario on subnet `netuid` of a freshly rewound local chain."""

    key_prefix = "spec148"  # hotkeys are //<key_prefix>/<scenario>/<name>

    def __init__(self, chain: LocalChain, name: str):
        self.chain, self.name = chain, name
        self.alice = sudo_key()
        self.netuid = chain.create_subnet(self.alice)
        self.tempo = chain.hyperparameters(self.netuid).tempo
        self.keys: dict[str, Keypair] = {}
        self.epochs: list[dict] = []

    # --- blocks and extrinsics (never inside an epoch block) ------------------------------
    def is_epoch(self, block: int) -> bool:
        return (block + self.netuid + 2) % (self.tempo + 1) == 0

    def _clear_epoch(self) -> None:
        if self.is_epoch(self.chain.block() + 1):
            self.chain.advance_blocks(1)

    def submit(self, pallet: str, call: str, params: dict, signer: Keypair, sudo: bool = False):
        self._clear_epoch()
        return self.chain.submit(pallet, call, params, signer, sudo=sudo)

    def hyper(self, **values) -> None:
        for name, value in values.items():
            self._clear_epoch()
            self.chain.set_hyperparameter(self.netuid, name, value, self.alice)

    def register(self, *names: str) -> dict[str, int]:
        """Fund and burned-register hotkeys (coldkey //Alice) in one batch; returns their uids."""
        new = {n: Keypair.create_from_uri(f"//{self.key_prefix}/{self.name}/{n}") for n in names}
        self.keys.update(new)
        calls = []
        for kp in new.values():
            calls.append(self.chain.compose_call("Balances", "transfer_keep_alive",
                                                 {"dest": kp.ss58_address, "value": TAO}))
            calls.append(self.chain.compose_call("SubtensorModule", "burned_register",
                                                 {"netuid": self.netuid, "hotkey": kp.ss58_address}))
        self.submit("Utility", "batch_all", {"calls": calls}, self.alice)
        return {n: self.uid(n) for n in names}

    def uid(self, name: str) -> int | None:
        return self.chain.uid(self.netuid, self.keys[name].ss58_address)

    def stake(self, **tao: int) -> None:
        calls = [self.chain.compose_call("SubtensorModule", "add_stake",
                                         {"hotkey": self.keys[n].ss58_address, "amount_staked": a * TAO})
                 for n, a in tao.items()]
        self.submit("Utility", "batch_all", {"calls": calls}, self.alice)

    def weights(self, name: str, w: dict[int, int]) -> None:
        self._clear_epoch()
        self.chain.set_weights(self.netuid, self.keys[name], list(w), list(w.values()))

    # --- epochs --------------------------------------------------------------------------
    def next_epoch(self) -> dict:
        """Advance to the next epoch block B and record it."""
        head = self.chain.block()
        b = head + 1
        while not self.is_epoch(b):
            b += 1
        self.chain.advance_blocks(b - head)
        rec = self.read_epoch(b)
        self.epochs.append(rec)
        o = rec["outputs"]
        logging.info("%s: epoch %d at block %d (n=%d) incentive %s dividends %s", self.name, len(self.epochs), b,
                     rec["inputs"]["n"], o["Incentive"], o["Dividends"])
        return rec

    def read_epoch(self, b: int) -> dict:
        return read_epoch(self.chain, self.netuid, b)

    def dump(self, out_dir: Path, description: str) -> Path:
        path = out_dir / f"{self.name}.json"
        doc = {"scenario": self.name, "description": description, "spec_version": self.chain.shape.spec_version,
               "netuid": self.netuid, "tempo": self.tempo, "epochs": self.epochs}
        path.write_text(_compact_json(doc))
        return path


def _compact_json(doc) -> str:
    """Indented JSON with every list of numbers on one line (small diffs, readable files)."""
    def fmt(x, ind):
        pad = " " * ind
        if isinstance(x, dict):
            items = [f'{pad}  {json.dumps(k)}: {fmt(v, ind + 2)}' for k, v in x.items()]
            return "{\n" + ",\n".join(items) + f"\n{pad}}}"
        if isinstance(x, list) and x and all(isinstance(r, list) for r in x):
            return "[\n" + ",\n".join(f"{pad}  {json.dumps(r)}" for r in x) + f"\n{pad}]"
        if isinstance(x, list) and any(isinstance(r, dict) for r in x):
            return "[\n" + ",\n".join(f"{pad}  {fmt(r, ind + 2)}" for r in x) + f"\n{pad}]"
        return json.dumps(x)
    return fmt(doc, 0) + "\n"


def _ints(a) -> list:
    return [int(v) for v in a]


def _rows(m, n: int) -> list[list[int]]:
    return [[int(v) for v in m[i, :n]] for i in range(n)]


def read_epoch(chain: LocalChain, netuid: int, b: int) -> dict:
    """Inputs of the epoch of block b (storage at b-1) and its stored outputs (storage at b)."""
    pre, post = chain.metagraph(netuid, block=b - 1), chain.metagraph(netuid, block=b)
    hp = chain.hyperparameters(netuid, block=b - 1)
    n = pre.n
    if post.n != n:
        raise RuntimeError(f"subnet size changed inside epoch block {b}: {n} -> {post.n}")
    pending = int(chain.query("PendingEmission", [netuid], block=b - 1) or 0)
    value = int(chain.query("EmissionValues", [netuid], block=b) or 0)
    cut = int(chain.query("SubnetOwnerCut", block=b) or 0)
    has_owner = chain.query("SubnetOwner", [netuid], block=b) is not None
    # generate_emission in block b: PendingEmission += E - E*cut/65535 (I96F32), then all of it drains
    remaining = (value << 32) - (((value * cut) << 32) // U16 if has_owner else 0)
    rao_emission = pending + (remaining >> 32)
    inputs = {
        "n": n, "current_block": b, "stake": _ints(pre.extra["stake_rao"]),
        "weights": _rows(pre.weights, n), "bonds": _rows(pre.bonds, n),
        "validator_permit": _ints(pre.validator_permit), "last_update": _ints(pre.last_update),
        "block_at_registration": _ints(pre.block_at_registration),
        "activity_cutoff": hp.activity_cutoff, "kappa": hp.kappa, "bonds_moving_average": hp.bonds_moving_average,
        "max_allowed_validators": hp.max_allowed_validators, "tempo": hp.tempo,
        "pending_emission": pending, "emission_value": value, "subnet_owner_cut": cut, "rao_emission": rao_emission,
    }
    ratio_src = {"Consensus": post.consensus, "Incentive": post.incentive, "Dividends": post.dividends,
                 "ValidatorTrust": post.validator_trust, "Rank": post.extra["rank"], "Trust": post.extra["trust"]}
    outputs = {k: [int(round(float(v) * U16)) for v in a[:n]] for k, a in ratio_src.items()}
    outputs.update({
        "PruningScores": _ints(post.extra["pruning_scores"][:n]), "Emission": _ints(post.extra["emission_rao"][:n]),
        "ValidatorPermit": _ints(post.validator_permit[:n]), "Active": _ints(post.extra["active"][:n]),
        "Bonds": _rows(post.bonds, n),
    })
    return {"block": b, "inputs": inputs, "outputs": outputs}


# --- scenarios ---------------------------------------------------------------------------------
def healthy(r: Recorder) -> str:
    u = r.register("v0", "v1", "v2", "m0", "m1", "m2", "m3", "m4")
    r.hyper(min_allowed_weights=1)
    r.stake(v0=1000, v1=500, v2=250)
    r.next_epoch()  # permits (everyone: n < max_allowed_validators); no weights yet -> stake fallback
    quality = [50000, 40000, 30000, 20000, 10000]
    for e in range(4):
        for k, v in enumerate(("v0", "v1", "v2")):
            noise = [(7919 * (e + 1) * (k + 3) * (j + 1)) % 6000 for j in range(5)]
            r.weights(v, {u[f"m{j}"]: quality[j] + noise[j] for j in range(5)})
        r.next_epoch()
    return ("3 validators (1000/500/250 TAO), 5 miners, dense weights with per-validator noise; "
            "first epoch has no weights")


def sparse(r: Recorder) -> str:
    u = r.register("v0", "v1", "v2", *[f"m{j}" for j in range(8)])
    r.hyper(min_allowed_weights=1, bonds_moving_average=800_000, kappa=39321)
    r.stake(v0=700, v1=600, v2=500)
    r.next_epoch()
    picks = {"v0": {0: 65535, 1: 20000}, "v1": {1: 65535, 2: 30000, 5: 1}, "v2": {0: 10000, 5: 65535, 6: 40000}}
    for e in range(3):
        for v, row in picks.items():
            r.weights(v, {u[f"m{(j + e) % 7}"]: w for j, w in row.items()})  # m7 is never weighted
        r.next_epoch()
    return ("3 validators, 8 miners, each validator weights 2-3 miners (one weight of 1), m7 never weighted, "
            "bonds_moving_average 800000, kappa 39321 (0.6)")


def copier(r: Recorder) -> str:
    u = r.register("v0", "v1", "v2", "copier", "m0", "m1", "m2", "m3")
    miners = [u[f"m{j}"] for j in range(4)]
    r.hyper(min_allowed_weights=1)
    r.stake(v0=900, v1=700, v2=500, copier=600)
    r.next_epoch()
    for e in range(4):
        best = e % 4  # the honest validators move their favourite miner every epoch
        for k, v in enumerate(("v0", "v1", "v2")):
            r.weights(v, {m: (65535 if j == best else 8000 + 3000 * ((j + k) % 3)) for j, m in enumerate(miners)})
        consensus = r.chain.query("Consensus", [r.netuid]) or []
        prev = {m: int(consensus[m]) for m in miners if m < len(consensus) and consensus[m] > 0}
        r.weights("copier", prev or {m: 1 for m in miners})  # submits the last epoch's consensus
        r.next_epoch()
    return ("3 honest validators moving their favourite miner each epoch, a copier (600 TAO) submitting "
            "the previous consensus")


def inactive(r: Recorder) -> str:
    u = r.register("v0", "v1", "v2", "m0", "m1", "m2", "m3")
    miners = [u[f"m{j}"] for j in range(4)]
    r.hyper(min_allowed_weights=1, activity_cutoff=25)
    r.stake(v0=800, v1=600, v2=1000)
    r.next_epoch()
    for e in range(5):
        active = ("v0", "v1", "v2") if e == 0 else ("v0", "v1")  # v2 (largest stake) goes silent
        for k, v in enumerate(active):
            r.weights(v, {m: 10000 + 15000 * ((j + k + e) % 4) for j, m in enumerate(miners)})
        r.next_epoch()
    return "activity_cutoff 25: the largest validator (v2) sets weights once and goes inactive after ~2 tempos"


def permits_lost(r: Recorder) -> str:
    u = r.register("v0", "v1", "v2", "v3", "m0", "m1", "m2", "m3")
    miners = [u[f"m{j}"] for j in range(4)]
    r.hyper(min_allowed_weights=1, max_allowed_validators=3)
    r.stake(v0=1000, v1=800)
    r.next_epoch()  # only 2 staked: top-3 lets the highest zero-stake uid (m3) in

    def set_all(e):
        for k, v in enumerate(("v0", "v1", "v2", "v3")):
            try:
                r.weights(v, {m: 5000 + 20000 * ((j * (k + 1) + e) % 3) for j, m in enumerate(miners)})
            except ExtrinsicError as exc:  # expected while v has no permit yet
                if exc.name != "NoValidatorPermit":
                    raise
                logging.info("%s: %s has no permit yet, its weights are refused", r.name, v)
    r.stake(v2=600)
    set_all(0)
    r.next_epoch()  # v2 gets a permit, m3 loses it
    set_all(1)
    r.next_epoch()
    r.stake(v3=1100)
    set_all(2)
    r.next_epoch()  # v3 in, v2 out: v2's bond row is cleared, its stored weights masked
    set_all(3)
    r.next_epoch()
    r.stake(v2=700)
    set_all(4)
    r.next_epoch()  # v2 (1300+) back in, v1 out
    return ("max_allowed_validators 3 with 4 validators: a zero-stake miner wins a permit, "
            "stake changes move permits twice")


def reregistered(r: Recorder) -> str:
    r.hyper(min_allowed_weights=1, max_allowed_uids=6, immunity_period=1)
    u = r.register("v0", "v1", "m0", "m1", "m2", "m3")
    miners = [u[f"m{j}"] for j in range(4)]
    r.stake(v0=1000, v1=700)
    r.next_epoch()
    table = {"v0": [40000, 30000, 20000, 1000], "v1": [35000, 40000, 15000, 2000]}
    for e in range(2):
        for v, row in table.items():
            r.weights(v, dict(zip(miners, row)))
        r.next_epoch()
    new = r.register("newcomer")["newcomer"]  # subnet full: replaces the lowest pruning score (m3)
    logging.info("%s: newcomer took uid %s", r.name, new)
    r.weights("v0", dict(zip(miners, [40000, 30000, 20000, 30000])))  # v0 updates after the re-registration
    r.next_epoch()
    r.next_epoch()
    r.weights("v1", dict(zip(miners, [35000, 40000, 15000, 25000])))  # v1 only now
    r.next_epoch()
    return ("max_allowed_uids 6, full subnet: a new hotkey replaces the weakest miner; "
            "v0 re-weights at once, v1 two epochs later")


SCENARIOS: dict[str, Callable[[Recorder], str]] = {
    "healthy": healthy, "sparse": sparse, "copier": copier, "inactive": inactive,
    "permits_lost": permits_lost, "reregistered": reregistered,
}


def main(argv=None, *, doc: str = __doc__, out: Path = OUT, scenarios=None, recorder=None, runtime: int = 148) -> int:
    """Shared by scripts/record_spec293.py (its scenarios, Recorder subclass and runtime)."""
    scenarios = SCENARIOS if scenarios is None else scenarios
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, default=out)
    ap.add_argument("--only", nargs="*", choices=sorted(scenarios), help="scenarios to record (default: all)")
    ap.add_argument("--chain-spec", help=f"raw spec-{runtime} chain spec (default: the cache)")
    args = ap.parse_args(argv)
    args.scenarios, args.recorder, args.runtime = scenarios, recorder or Recorder, runtime
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("chain", "substrateinterface"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        record(args)
    except ChainError as exc:
        print(f"error: {exc}" + (f"\n  {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return 1
    return 0


def record(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"record{args.runtime}-") as tmp:
        state = Path(tmp)
        st, _ = process.start(args.chain_spec, process.free_port(), state_dir=state, install=False,
                              runtime=args.runtime)
        try:
            with LocalChain(st.url) as chain:
                relax_chain(chain)
                base = chain.block()
                logging.info("Chopsticks up at %s, runtime spec %d, relaxed at block %d (%.1f s)",
                             st.url, chain.shape.spec_version, base, time.perf_counter() - t0)
                for name in args.only or args.scenarios:
                    t1 = time.perf_counter()
                    chain.reset(base)
                    rec = args.recorder(chain, name)
                    path = rec.dump(args.out, args.scenarios[name](rec))
                    logging.info("%s: %d epochs -> %s (%d bytes, %.1f s)", name, len(rec.epochs), path,
                                 path.stat().st_size, time.perf_counter() - t1)
        finally:
            process.stop(state)
    logging.info("recorded in %.1f s", time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())
