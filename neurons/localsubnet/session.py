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
                  "text-next-token": ["smollm2", "ngram", "uniform", "uniform:1"]}
# what the demo asks a validator's API at the end, as an application would (`neuron query`)
SAMPLE_TEXTS = {
    "text-embedding": ["Return the contents of the file as bytes.",
                       "def read_bytes(path):\n    with open(path, 'rb') as f:\n        return f.read()",
                       "Open a TCP connection to host and port.",
                       "def connect(host, port):\n    return socket.create_connection((host, port))"],
    "text-next-token": ["import os\nimport ", "def main():\n    for i in range("],
}


def choose_chain(kind: str, chain_spec: str | None, out: Path, runtime: int):
    """(chain, url for child processes, what to stop afterwards or None, a sentence saying which)."""
    import chain as chain_mod
    if kind == "auto":
        kind = "local" if _local_available(chain_spec, runtime) else "dev"
        if kind == "dev":
            log.info("no local chain runtime available (chain spec or node missing): using the dev ledger")
    if kind == "dev":
        path = out / "devchain.sqlite"
        path.unlink(missing_ok=True)
        url = f"dev:{path}"
        # block_time=0: the runner is the block producer (children opening the url inherit it)
        return chain_mod.connect(url, block_time=0), url, None, f"dev ledger (SQLite, {path})"
    if kind == "local":
        from chain import localnet
        was_running = localnet.status().running
        st = localnet.start(chain_spec, runtime=runtime)
        url = f"local:{st.port}"
        stop = None if was_running else localnet.stop
        c = chain_mod.connect(url)
        return c, url, stop, f"real subtensor runtime spec {c.shape.spec_version} under Chopsticks ({st.url})"
    return chain_mod.connect(kind), kind, None, kind


def _local_available(chain_spec: str | None, runtime: int) -> bool:
    from chain.localnet.spec import find_spec
    from chain.errors import ChainError
    try:
        find_spec(chain_spec, runtime)
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
    models = args.models.split(",") if args.models else DEFAULT_MODELS.get(spec.name, list(spec.miners()))
    plan = default_plan(models, args.validators)
    chain, url, stop_chain, which = choose_chain(args.chain, args.chain_spec, out, args.runtime)
    log.info("chain: %s", which)
    children = Children(out / "logs")
    try:
        hp = {_RENAMED.get(k, k): v for k, v in spec.hyperparameters.items() if k != "tempo"}
        hp.pop("weights_rate_limit", None)
        sub = LocalSubnet(chain, url, args.subnet, plan, out, epochs=args.epochs, tempo=args.tempo,
                          block_time=args.block_time, timeout_s=args.timeout, api=True,
                          validator_args=[*(["--validator.batch_size", str(args.batch_size)] if args.batch_size else []),
                                          "--scoring.ema_alpha", str(args.ema_alpha),
                                          "--validator.weights_interval_blocks", str(max(1, args.tempo // 2))])
        sub.launch(children, hp)
        sub.run_epochs(children, progress_line)
        final = sub.records[-1].metagraph
        rows = neuron_rows(plan, sub.uids, final)
        print(f"\nsubnet {sub.netuid} ({args.subnet}) on the {which}, after {len(sub.records)} epochs "
              f"({time.monotonic() - t0:.0f} s):\n")
        dtao = getattr(getattr(chain, "shape", None), "stakes_per_subnet", False)  # stake is alpha per subnet
        print(format_table(rows, unit="alpha" if dtao else "TAO"))
        if spec.name in SAMPLE_TEXTS:
            print("\nan application's query through the validators' API (`neuron query`):")
            print("\n".join(application_query(spec, chain, sub.netuid, plan, SAMPLE_TEXTS[spec.name])))
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


def application_query(spec, chain, netuid: int, plan, texts: list[str]) -> list[str]:
    """Ask the best-staked validator's API with the first validator's (staked) hotkey; printable lines."""
    import asyncio

    from neurons.dendrite import Dendrite
    from neurons.validator.api_client import answer_lines, api_endpoints, ask_validators
    from neurons.wallet import DevWallet

    caller = DevWallet(next(p for p in plan if p.role == "validator").coldkey_uri).hotkey()
    request = spec.request_from_text(texts)

    async def ask():
        async with Dendrite(caller) as dendrite:
            return await ask_validators(spec, dendrite, api_endpoints(chain.metagraph(netuid)), request, timeout=15)
    try:
        ep, answer, seconds = asyncio.run(ask())
    except Exception as e:  # noqa: BLE001 - the demo's result stands without this extra
        log.warning("application query failed: %s", e)
        return [f"(no answer: {e})"]
    return answer_lines(spec, ep, answer, seconds, request, texts)
