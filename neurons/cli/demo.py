"""`neuron demo`: the one-command local subnet (chain, validators, miners, epochs, results)."""
from __future__ import annotations

HELP = "run a whole local subnet: chain, validators and miners as processes, epochs, results table + plot"


def add_arguments(parser) -> None:
    parser.add_argument("--subnet", default="text-embedding", help="subnet to run (default: text-embedding)")
    parser.add_argument("--models", default=None,
                        help="comma-separated reference models, one miner each, as NAME or NAME:SEED "
                             "(default for text-embedding: minilm,bow,random,random:1)")
    parser.add_argument("--validators", type=int, default=2, choices=(1, 2, 3), help="number of validators")
    parser.add_argument("--chain", default="auto",
                        help="auto (local runtime if a chain spec is available, else dev ledger), dev, local, or a URL")
    parser.add_argument("--chain-spec", default=None, help="subtensor chain spec (plain or raw) for the local runtime")
    from chain.localnet.spec import DEFAULT_RUNTIME, KNOWN
    parser.add_argument("--runtime", type=int, choices=sorted(KNOWN), default=DEFAULT_RUNTIME,
                        help="which known local runtime: " + "; ".join(f"{r}: {s.description}" for r, s in KNOWN.items()))
    parser.add_argument("--epochs", type=int, default=3, help="paying epochs to run (default 3)")
    parser.add_argument("--tempo", type=int, default=10, help="blocks per epoch (default 10)")
    parser.add_argument("--block-time", type=float, default=1.0, help="seconds per block (default 1.0)")
    parser.add_argument("--ema-alpha", type=float, default=0.3, help="validators' score EMA weight (default 0.3)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="validator challenge batch size (default: the subnet's default_batch_size)")
    parser.add_argument("--out", default="out/demo", help="directory for logs, state, table and plot")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")


def run(args) -> int:
    from neurons.localsubnet.session import run_demo
    return run_demo(args)
