"""`neuron localnet start|stop|status|fetch`: the real subtensor runtime on 127.0.0.1 under Chopsticks."""
from __future__ import annotations

import argparse

HELP = "run the real subtensor runtime locally (Chopsticks): start | stop | status | fetch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status", "fetch"],
                        help="start (installs Chopsticks on first use), stop, status, or fetch the chain spec")
    parser.add_argument("--chain-spec", metavar="PATH",
                        help="raw chain spec JSON (default: $OPENSUBNET_CHAIN_SPEC, then the cache)")
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default 9944, or a free one)")
    parser.add_argument("--no-install", action="store_true", help="fail instead of npm-installing Chopsticks")
    parser.add_argument("--spec-url", metavar="URL",
                        help="fetch: where to download the spec (default $OPENSUBNET_CHAIN_SPEC_URL); sha256-checked")


def run(args: argparse.Namespace) -> int:
    from chain import localnet
    from chain.localnet.spec import download_spec

    if args.action == "fetch":
        print(f"chain spec saved to {download_spec(args.spec_url)}")
        return 0
    if args.action == "stop":
        print("local chain stopped" if localnet.stop() else "local chain was not running")
        return 0
    if args.action == "start":
        st = localnet.start(args.chain_spec, args.port, install=not args.no_install)
    else:
        st = localnet.status()
    if not st.running:
        print("local chain: not running (start it with `neuron localnet start`)")
        return 1 if args.action == "status" else 2
    print(f"local chain: running, pid {st.pid}, {st.url}  (connect with --chain local; log {st.log_file})")
    return 0
