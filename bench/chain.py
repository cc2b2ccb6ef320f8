"""Benchmark: extrinsic round trip and metagraph read for a 256-neuron subnet, on the local real
runtime (Chopsticks, spec 148) and on the dev ledger.

Usage: python bench/chain.py [--neurons 256] [--repeat 15] [--out bench/results_chain.md]

Same workload on both backends: one subnet, N registered hotkeys, 8 staked validators that each
set weights on all N uids. Measured (median of --repeat):
- extrinsic round trip: `set_weights` on 64 uids, submitted and included (wait_for_inclusion).
  Baseline on the local runtime: the same call through bare substrate-interface (compose, sign,
  submit, check) on the same chain, i.e. the cost of our layer (typed errors, lock, retry).
- metagraph read of the N-uid subnet. Baseline on the local runtime: the naive per-uid reads
  (one storage query per uid and item) of the same data, on the same chain at the same block.
The local runtime needs the chain spec and Chopsticks (`neuron localnet start` once); without
them only the dev ledger is measured.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from substrateinterface import Keypair  # noqa: E402

from chain.types import RAO_PER_TAO  # noqa: E402

K = Keypair.create_from_uri
VALIDATORS = 8


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def register_all(chain, netuid: int, hotkeys: list[str], coldkey: Keypair) -> None:
    from chain.subtensor import SubtensorChain
    if isinstance(chain, SubtensorChain):   # 64 registrations per extrinsic: Utility.batch_all
        for i in range(0, len(hotkeys), 64):
            calls = [chain.compose_call("SubtensorModule", "burned_register", {"netuid": netuid, "hotkey": hk})
                     for hk in hotkeys[i:i + 64]]
            chain.submit("Utility", "batch_all", {"calls": calls}, coldkey)
    else:
        for hk in hotkeys:
            chain.register(netuid, hk, coldkey)


def build_subnet(chain, n: int) -> tuple[int, list[Keypair]]:
    alice, bob = K("//Alice"), K("//Bob")
    netuid = chain.create_subnet(alice)
    hparams = {"tempo": 10, "weights_rate_limit": 0, "max_registrations_per_block": n,
               "target_registrations_per_interval": n, "max_allowed_validators": VALIDATORS}
    if chain.hyperparameters(netuid).commit_reveal_enabled:  # the workload sets weights directly
        hparams["commit_reveal_enabled"] = False
    chain.set_hyperparameters(netuid, hparams, alice)
    validators = [K(f"//bench-v{i}") for i in range(VALIDATORS)]
    hotkeys = [v.ss58_address for v in validators] + [K(f"//bench-m{i}").ss58_address for i in range(n - VALIDATORS)]
    print(f"  registering {n} neurons …", flush=True)
    register_all(chain, netuid, hotkeys, bob)
    for i, v in enumerate(validators):
        chain.add_stake(bob, v.ss58_address, (100 + 10 * i) * RAO_PER_TAO)
    chain.advance_blocks(12)                      # an epoch hands out the permits
    for i, v in enumerate(validators):
        chain.set_weights(netuid, v, list(range(n)), [1 + (7 * i + u) % 65535 for u in range(n)])
    assert chain.metagraph(netuid).n == n
    return netuid, validators


def measure(chain, n: int, repeat: int) -> dict:
    netuid, validators = build_subnet(chain, n)
    ours_xt = lambda: chain.set_weights(netuid, validators[0], list(range(64)), [1000] * 64)  # noqa: E731
    ours_mg = lambda: chain.metagraph(netuid)  # noqa: E731
    from chain.subtensor import SubtensorChain
    if not isinstance(chain, SubtensorChain):
        return {"extrinsic_ms": median_ms(ours_xt, repeat), "metagraph_ms": median_ms(ours_mg, repeat)}
    raw_xt, naive_mg = raw_baselines(chain, netuid, validators[0], n)
    # interleaved, so that load changes on the machine hit ours and the baseline alike
    pairs = [(median_ms(ours_xt, 1), median_ms(raw_xt, 1)) for _ in range(repeat)]
    reads = [(median_ms(ours_mg, 1), median_ms(naive_mg, 1)) for _ in range(3)]
    return {"extrinsic_ms": statistics.median(p[0] for p in pairs), "raw_extrinsic_ms": statistics.median(p[1] for p in pairs),
            "metagraph_ms": statistics.median(r[0] for r in reads), "naive_metagraph_ms": statistics.median(r[1] for r in reads)}


def raw_baselines(chain, netuid: int, v: Keypair, n: int):
    """Bare substrate-interface on the same chain: submit without our layer; per-uid metagraph reads."""
    from substrateinterface import SubstrateInterface
    s = SubstrateInterface(url=chain.url, ss58_format=42)
    s.init_runtime()

    def raw_submit():
        call = s.compose_call("SubtensorModule", "set_weights",
                              {"netuid": netuid, "dests": list(range(64)), "weights": [1000] * 64, "version_key": 0})
        r = s.submit_extrinsic(s.create_signed_extrinsic(call=call, keypair=v), wait_for_inclusion=True)
        assert r.is_success, r.error_message

    def per_uid_reads():
        head = s.get_chain_head()
        q = lambda item, params: s.query("SubtensorModule", item, params, block_hash=head).value  # noqa: E731
        for item in ("Consensus", "Incentive", "Dividends", "ValidatorTrust", "ValidatorPermit", "Emission",
                     "LastUpdate", "Rank", "Trust", "Active", "PruningScores"):
            q(item, [netuid])
        for uid in range(n):
            hk = q("Keys", [netuid, uid])
            q("Owner", [hk]), q("TotalHotkeyStake", [hk]), q("Axons", [netuid, hk])
            q("BlockAtRegistration", [netuid, uid]), q("Weights", [netuid, uid]), q("Bonds", [netuid, uid])

    return raw_submit, per_uid_reads


def local_runtime(n: int, repeat: int) -> dict | str:
    from chain.errors import ChainError
    from chain.localnet import process
    from chain.localnet.bootstrap import relax_chain
    from chain.localnet.local import LocalChain
    state = Path(tempfile.mkdtemp(prefix="bench-localnet-"))
    try:
        st, _ = process.start(port=process.free_port(), state_dir=state, install=False)
    except ChainError as exc:
        return f"skipped: {exc} ({exc.hint})"
    try:
        with LocalChain(st.url) as chain:
            relax_chain(chain)
            return measure(chain, n, repeat)
    finally:
        process.stop(state)


def dev_ledger(n: int, repeat: int) -> dict | str:
    try:
        from chain.dev import DevChain
    except ImportError as exc:
        return f"skipped: chain.dev not available ({exc})"
    with DevChain(None) as chain:
        return measure(chain, n, repeat)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_chain.md")))
    args = ap.parse_args()
    results = {}
    for name, fn in (("local runtime (Chopsticks, spec 148)", local_runtime), ("dev ledger (SQLite)", dev_ledger)):
        print(f"{name}: …", flush=True)
        t0 = time.perf_counter()
        results[name] = fn(args.neurons, args.repeat)
        print(f"  {results[name]}  ({time.perf_counter() - t0:.0f} s)", flush=True)

    rows = ["| backend | extrinsic round trip (ms) | baseline: bare substrate-interface (ms) | ratio | "
            f"metagraph {args.neurons} uids (ms) | baseline: per-uid reads (ms) | speed-up |",
            "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if isinstance(r, str):
            rows.append(f"| {name} | {r} | | | | | |")
            continue
        raw, naive = r.get("raw_extrinsic_ms"), r.get("naive_metagraph_ms")
        xt, mg = r["extrinsic_ms"], r["metagraph_ms"]
        raw_cells = f"{raw:.1f} | {xt / raw:.2f}×" if raw else "— | —"
        naive_cells = f"{naive:.0f} | {naive / mg:.0f}×" if naive else "— | —"
        rows.append(f"| {name} | {xt:.1f} | {raw_cells} | {mg:.1f} | {naive_cells} |")
    local, dev = (results.get(k) for k in results)
    if isinstance(local, dict) and isinstance(dev, dict):
        rows.append(f"\nDev ledger vs local runtime: extrinsic {local['extrinsic_ms'] / dev['extrinsic_ms']:.1f}× faster, "
                    f"metagraph {local['metagraph_ms'] / dev['metagraph_ms']:.1f}× faster.")
    text = "\n".join(rows)
    print(text)
    Path(args.out).write_text(
        f"# Chain benchmark\n\nCommand: `python bench/chain.py --neurons {args.neurons} --repeat {args.repeat}`  \n"
        f"Machine: {platform.machine()}, {platform.processor() or platform.platform()}, Python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores (shared machine: absolute times vary, ratios are measured interleaved)\n\n"
        f"Workload: one subnet, {args.neurons} neurons, {VALIDATORS} staked validators with weights on all uids. "
        "Extrinsic = `set_weights` on 64 uids, included in a block. Medians.\n\n" + text + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
