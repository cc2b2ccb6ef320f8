"""`neuron bench`: how many requests/s a miner's model answers on this machine, batching off and on."""
from __future__ import annotations

HELP = "load-test a miner's model here: N validators against it, batching off and on, and which to run"
SECTIONS = ["subnet", "miner", "dendrite", "logging"]
GAIN = 1.1  # batching "pays" above this ratio: run-to-run noise on a busy machine is about ±5%


def add_arguments(parser) -> None:
    from neurons.config import add_config_flags
    from neurons.loadtest import LoadTest as T  # its defaults are the command's

    add_config_flags(parser, SECTIONS)
    parser.add_argument("--validators", type=int, default=T.validators, help=f"validators querying at once (default: {T.validators})")
    parser.add_argument("--rows", type=int, default=T.rows, help=f"rows per request: texts or contexts (default: {T.rows})")
    parser.add_argument("--seconds", type=float, default=T.seconds, help=f"measuring time per miner (default: {T.seconds:g})")
    parser.add_argument("--rounds", type=int, default=T.rounds,
                        help=f"alternating windows the time is split into (default: {T.rounds})")
    parser.add_argument("--seed", type=int, default=T.seed, help="seed of the reference model")


def advice(device: str, ratio: float, p99_ms: float, deadline_s: float) -> str:
    """What to run, from the measured ratio and what `--miner.batching auto` does on this device."""
    import torch

    from neurons.batching import batching_enabled

    auto_on = batching_enabled("auto", torch.device(device))
    late = p99_ms >= deadline_s * 1e3
    pays = ratio >= GAIN and not late
    why = "advice: " + (f"batched p99 {p99_ms:.0f} ms misses the {deadline_s:g} s deadline" if late
           else f"batched answered {ratio:.2f}× the requests/s of unbatched")
    default = f"{why}; the default (--miner.batching auto) is {'on' if auto_on else 'off'} on {device}"
    if pays == auto_on:
        return f"{default}: keep it"
    return default + (": run `neuron miner ... --miner.batching on`" if pays
                      else ": run `neuron miner ... --miner.batching off`")


def format_result(result, rows: int) -> str:
    head = ["miner", "requests/s", "rows/s", "p50 ms", "p99 ms", "answered", "failed", "vs unbatched"]
    base = result.modes["unbatched"].rps
    cells = [[mode, f"{m.rps:.1f}", f"{m.rows_s:.0f}", f"{m.p50_ms:.0f}", f"{m.p99_ms:.0f}", str(m.ok), str(m.failed),
              f"{m.rps / max(base, 1e-9):.2f}×"] for mode, m in result.modes.items()]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    merged = result.requests / max(result.forwards, 1)
    batched = (f"; the batched miner ran {result.forwards} forwards for {result.requests} requests "
               f"({merged:.1f} requests per forward)" if "batched" in result.modes else "")
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, cells), "",
                      f"model on {result.device}, {rows} rows per request{batched}"])


def run(args) -> int:
    import logging

    from neurons.cli.common import stop_on_sigterm
    from neurons.cli.errors import CLIError
    from neurons.config import fill_from_subnet, load_config
    from neurons.loadtest import LoadTest, LoadTestError, compare
    from neurons.plugins import load_subnet

    stop_on_sigterm()  # the miners stop as on Ctrl-C
    cfg = load_config(args)
    logging.getLogger().setLevel(cfg.logging.level)
    fill_from_subnet(cfg, load_subnet(cfg.subnet.name))
    test = LoadTest(cfg.subnet.name, cfg.miner.model_dump(), validators=args.validators, rows=args.rows,
                    seconds=args.seconds, rounds=args.rounds, timeout=cfg.dendrite.timeout_s, seed=args.seed)
    log = logging.getLogger("opensubnet.bench")
    if cfg.origin("miner.batching") != "default":
        log.info("miner.batching = %s (%s) is not used here: the bench measures batching off and on",
                 cfg.miner.batching, cfg.origin("miner.batching"))
    try:
        result = compare(test, progress=log.info)
    except LoadTestError as e:
        raise CLIError(str(e)) from None
    print(format_result(result, test.rows))
    if result.ratio is None:
        print(f"advice: subnet {cfg.subnet.name} does not declare its rows independent (rows_independent, the "
              "batch as dim 0 of every tensor), so its miner runs one forward per request whatever "
              "--miner.batching says")
    else:
        print(advice(result.device, result.ratio, result.modes["batched"].p99_ms, test.timeout))
    return 0
