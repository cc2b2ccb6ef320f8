"""`neuron localnet start|stop|status|fetch`: the real subtensor runtime on 127.0.0.1 under Chopsticks."""
from __future__ import annotations

import argparse

HELP = "run the real subtensor runtime locally (Chopsticks): start | stop | status | fetch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from chain.localnet.spec import DEFAULT_RUNTIME, KNOWN

    parser.add_argument("action", choices=["start", "stop", "status", "fetch"],
                        help="start (installs Chopsticks on first use), stop, status, or fetch: where each known "
                             "chain spec comes from (and, with --spec-url, download one)")
    parser.add_argument("--runtime", type=int, choices=sorted(KNOWN), default=DEFAULT_RUNTIME,
                        help="which known runtime to run: " + "; ".join(f"{r}: {s.description}" for r, s in KNOWN.items())
                             + f" (default {DEFAULT_RUNTIME})")
    parser.add_argument("--chain-spec", metavar="PATH",
                        help="chain spec JSON, plain or raw (default: $OPENSUBNET_CHAIN_SPEC, then the cache)")
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default 9944, or a free one)")
    parser.add_argument("--no-install", action="store_true", help="fail instead of npm-installing Chopsticks")
    parser.add_argument("--spec-url", metavar="URL",
                        help="fetch: where to download the --runtime spec (default $OPENSUBNET_CHAIN_SPEC_URL); "
                             "sha256-checked")


def _fetch(args) -> int:
    from chain.localnet.paths import chainspec_dir
    from chain.localnet.spec import KNOWN, download_spec, known

    if args.spec_url:
        print(f"chain spec saved to {download_spec(args.spec_url, spec=known(args.runtime))}")
        return 0
    for runtime, spec in KNOWN.items():
        target = chainspec_dir() / spec.filename
        print(f"runtime {runtime}: {spec.description}\n"
              f"  from: github.com/{spec.repo}, commit {spec.commit}, file {spec.path}\n"
              f"  put it at: {target}  ({'present' if target.is_file() else 'missing'})\n"
              f"  sha256: {spec.sha256}\n"
              f"  e.g. in a clone: git show {spec.commit[:8]}:{spec.path} > {target}")
    print("or download a copy you trust: neuron localnet fetch --runtime N --spec-url URL (kept only if the "
          "sha256 matches)")
    return 0


def _describe(url: str) -> str:
    """'runtime spec N, head #B' of the running chain, or why it could not be read."""
    from chain.errors import ChainError
    from chain.subtensor import SubtensorChain

    try:
        with SubtensorChain(url, timeout=10, attempts=2) as c:
            return f"runtime spec {c.shape.spec_version}, head #{c.block()}"
    except ChainError as exc:
        return f"not answering ({exc})"


def run(args: argparse.Namespace) -> int:
    from chain import localnet

    if args.action == "fetch":
        return _fetch(args)
    if args.action == "stop":
        print("local chain stopped" if localnet.stop() else "local chain was not running")
        return 0
    if args.action == "start":
        st = localnet.start(args.chain_spec, args.port, install=not args.no_install, runtime=args.runtime)
    else:
        st = localnet.status()
    if not st.running:
        print("local chain: not running (start it with `neuron localnet start`)")
        return 1 if args.action == "status" else 2
    print(f"local chain: running, pid {st.pid}, {st.url}, {_describe(st.url)}  "
          f"(connect with --chain local; log {st.log_file})")
    return 0
