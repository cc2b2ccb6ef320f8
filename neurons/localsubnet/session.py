"""`neuron demo` end to end: pick the chain, run the subnet, print the table, write the plot."""
from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

from neurons.localsubnet.plan import default_plan
from neurons.localsubnet.procs import Children
from neurons.localsubnet.report import format_table, neuron_rows, plot_incentive
from neurons.localsubnet.runner import LocalSubnet, progress_line
from neurons.plugins import load_subnet

log = logging.getLogger("opensubnet.localsubnet")

# Spec hyperparameter names that differ from chain.Hyperparameters
_RENAMED = {"commit_reveal": "commit_reveal_enabled"}
DEFAULT_MODELS = {"text-embedding": ["minilm", "bow", "random", "random:1"],
                  "text-next-token": ["transformer", "ngram", "uniform", "uniform:1"]}


def choose_chain(kind: str, chain_spec: str | None, out: Path):
    """(chain, url for child processes, what to stop afterwards or None, a sentence saying which)."""
    import chain as chain_mod
    if kind == "auto":
        kind = "local" if _local_available(chain_spec) else "dev"
        if kind == "dev":
            log.info("no local chain runtime available (chain spec or node missing): using the dev ledger")
    if kind == "dev":
        path = out / "devchain.sqlite"
        path.unlink(missing_ok=True)
        url = f"dev:{path}"
        return chain_mod.connect(url), url, None, f"dev ledger (SQLite, {path})"
    if kind == "local":
        from chain import localnet
        was_running = localnet.status().running
        st = localnet.start(chain_spec)
        url = f"local:{st.port}"
        stop = None if was_running else localnet.stop
        return chain_mod.connect(url), url, stop, f"real subtensor runtime under Chopsticks ({st.url})"
    return chain_mod.connect(kind), kind, None, kind


def _local_available(chain_spec: str | None) -> bool:
    from chain.localnet.spec import find_spec
    from chain.errors import ChainError
    try:
        find_spec(chain_spec)
    except ChainError:
        return False
    return shutil.which("node") is not None and shutil.which("npm") is not None


def run_demo(args) -> int:
    t0 = time.monotonic()
    out = Path(args.out).expanduser()
    for old in ("state", "logs"):   # a fresh subnet: no scores or logs from an earlier run
        shutil.rmtree(out / old, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    spec = load_subnet(args.subnet)
    models = args.models.split(",") if args.models else DEFAULT_MODELS.get(args.subnet, list(spec.miners()))
    plan = default_plan(models, args.validators)
    chain, url, stop_chain, which = choose_chain(args.chain, args.chain_spec, out)
    log.info("chain: %s", which)
    children = Children(out / "logs")
    try:
        hp = {_RENAMED.get(k, k): v for k, v in spec.hyperparameters.items() if k != "tempo"}
        hp.pop("weights_rate_limit", None)
        sub = LocalSubnet(chain, url, args.subnet, plan, out, epochs=args.epochs, tempo=args.tempo,
                          block_time=args.block_time, timeout_s=args.timeout, api=True,
                          validator_args=["--validator.batch_size", str(args.batch_size),
                                          "--validator.ema_alpha", str(args.ema_alpha),
                                      "--validator.weights_interval_blocks", str(max(1, args.tempo // 2))])
        sub.create(hp)
        sub.register_all()
        sub.start_neurons(children, "miner")
        sub.wait_for_miners(children)
        sub.start_neurons(children, "validator")
        sub.run_epochs(children, progress_line)
        final = sub.records[-1].metagraph
        rows = neuron_rows(plan, sub.uids, final)
        print(f"\nsubnet {sub.netuid} ({args.subnet}) on the {which}, after {len(sub.records)} epochs "
              f"({time.monotonic() - t0:.0f} s):\n")
        print(format_table(rows))
        png = plot_incentive(plan, sub.uids, sub.records, out / "incentive.png",
                             f"{args.subnet}: incentive per miner over epochs")
        (out / "results.json").write_text(json.dumps({"rows": rows, "chain": which, "netuid": sub.netuid}, indent=1))
        print(f"\nplot: {png}\nlogs: {children.log_dir}")
        return 0
    finally:
        children.stop_all()
        chain.close()
        if stop_chain:
            stop_chain()
