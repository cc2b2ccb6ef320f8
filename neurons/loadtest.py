"""Load-test a miner's model on this machine: N validators against it, with batching off and on.

Two local miner processes serve the model as `neuron miner` does (model_runner, make_forward,
axon_section) on 127.0.0.1, under throwaway dev keys (no wallet, no chain): one with batching off,
one with it on. N validators, each with its own hotkey and dendrite, send challenges of `rows`
rows one after another. The two miners are measured in alternating windows, so both see the same
machine load. `neuron bench` and bench/batching.py print what `compare` returns.

    result = compare(LoadTest("text-embedding", {"model": "minilm"}, validators=8), progress=print)
    result.modes["batched"].rps / result.modes["unbatched"].rps
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

MODES = ("unbatched", "batched")
MAX_VALIDATORS = 256  # each is a dendrite with its own channel: more measures this machine's client, not the miner


def _uri(run: str, who: str) -> str:
    """A key of this run alone: derived from a secret drawn per run, so nobody else on the machine can sign
    as one of its validators (a well-known dev URI would let any local process reach the miners)."""
    return f"//LoadTest//{run}//{who}"


class LoadTestError(Exception):
    """The load test could not run (an unknown model, a miner that failed to start); says why."""

@dataclass(frozen=True)
class LoadTest:
    subnet: str                # a subnet name or spec file, as --subnet.name takes
    miner: dict                # [miner] settings (model, device, batch_max_rows, ...); the config's defaults for the rest
    validators: int = 8
    rows: int = 8              # rows per challenge (texts, or contexts, of one request)
    seconds: float = 16.0      # measuring time per miner, split over `rounds` alternating windows
    rounds: int = 4
    timeout: float = 12.0      # the validators' deadline per request, seconds
    seed: int = 0              # of the reference model


@dataclass
class Outcome:
    """One miner's figures over its windows: verified answers per second, latency of one request."""
    rps: float
    rows_s: float
    p50_ms: float
    p99_ms: float
    ok: int
    failed: int


@dataclass
class Result:
    device: str                # where the models ran, as torch names it
    threads: dict[str, int]    # torch threads per miner
    forwards: int              # model forwards the batched miner ran
    requests: int              # requests those forwards answered
    modes: dict[str, Outcome] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Batched requests/s over unbatched (None: the subnet's requests cannot merge, no batched miner)."""
        if "batched" not in self.modes:
            return None
        return self.modes["batched"].rps / max(self.modes["unbatched"].rps, 1e-9)


def _miner(test: LoadTest, run: str, mode: str, conn) -> None:
    try:
        asyncio.run(_serve(test, run, mode, conn))
    except BaseException as e:  # noqa: BLE001 - the parent reports it; nothing else would see it
        try:
            conn.send({"error": f"{type(e).__name__}: {e}"})
        except OSError:  # the parent is gone (interrupted): nobody to tell
            pass


async def _serve(test: LoadTest, run: str, mode: str, conn) -> None:
    """One miner process: the model behind an axon, as `neuron miner` runs it, batching off or on."""
    import torch
    from substrateinterface import Keypair

    from neurons.axon import Axon, CallerInfo
    from neurons.config.schema import AxonSection, NeuronConfig
    from neurons.miner import axon_section, make_forward, model_runner
    from neurons.plugins import load_subnet
    from neurons.runtime import prepare_to_serve

    torch.set_num_threads(1)  # as `neuron miner` does (a batched CPU miner gets every core: model_runner)
    spec = load_subnet(test.subnet)
    cfg = NeuronConfig(miner={**test.miner, "batching": "on" if mode == "batched" else "off"})
    model = spec.miners()[cfg.miner.model](test.seed)
    device, batcher = model_runner(cfg, spec, model)
    kp = Keypair.create_from_uri(_uri(run, "miner"))
    callers = {Keypair.create_from_uri(_uri(run, f"validator{i}")).ss58_address: CallerInfo(i, 100.0, True)
               for i in range(test.validators)}
    section = AxonSection(rate_per_s=1e6, burst=1e6, max_inflight_per_caller=1024)
    axon = Axon(kp, caller_info=callers.get, config=axon_section(section, batcher))
    axon.attach(spec.synapse, make_forward(spec, model, device, batcher))
    port = await axon.start()
    prepare_to_serve()
    conn.send({"hotkey": kp.ss58_address, "port": port, "device": str(device), "threads": torch.get_num_threads()})
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
    conn.send({"forwards": batcher.forwards, "requests": batcher.requests} if batcher else {})
    await axon.stop(0)
    if batcher is not None:
        await batcher.close()


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))] if xs else float("nan")


async def _drive(test: LoadTest, run: str, miners: dict[str, dict],
                 progress: Callable[[str], None]) -> dict[str, Outcome]:
    """The validators: a warm-up window per miner, then `rounds` alternating measuring windows."""
    from substrateinterface import Keypair

    from neurons.dendrite import Dendrite, Endpoint
    from neurons.plugins import load_subnet

    spec = load_subnet(test.subnet)
    challenges = [spec.challenge(seed, test.rows).request for seed in range(32)]
    dendrites = [Dendrite(Keypair.create_from_uri(_uri(run, f"validator{i}"))) for i in range(test.validators)]
    stats = {mode: {"lat": [], "ok": 0, "failed": 0, "busy": 0.0} for mode in miners}

    async def one_validator(i: int, ep: Endpoint, st: dict, until: float) -> None:
        k = i
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            [r] = await dendrites[i].query([ep], spec.synapse, challenges[k % len(challenges)], timeout=test.timeout)
            k += test.validators
            if r.ok:
                st["lat"].append(time.perf_counter() - t0)
                st["ok"] += 1
            else:
                st["failed"] += 1

    async def window(mode: str, seconds: float) -> None:
        ep = Endpoint(miners[mode]["hotkey"], "127.0.0.1", miners[mode]["port"])
        t0, st = time.perf_counter(), stats[mode]
        await asyncio.gather(*(one_validator(i, ep, st, t0 + seconds) for i in range(test.validators)))
        st["busy"] += time.perf_counter() - t0

    try:
        for mode in miners:  # channels, streams and the model's first forwards
            await window(mode, 1.0)
            stats[mode].update(lat=[], ok=0, failed=0, busy=0.0)
        for n in range(test.rounds):
            for mode in miners:
                before = stats[mode]["ok"]
                await window(mode, test.seconds / test.rounds)
                progress(f"window {n + 1}/{test.rounds} {mode}: {stats[mode]['ok'] - before} answers "
                         f"in {test.seconds / test.rounds:.1f} s")
    finally:
        for d in dendrites:
            await d.close()
    return {mode: Outcome(st["ok"] / st["busy"], st["ok"] * test.rows / st["busy"], percentile(st["lat"], 50) * 1e3,
                          percentile(st["lat"], 99) * 1e3, st["ok"], st["failed"]) for mode, st in stats.items()}


def check(test: LoadTest) -> tuple[str, ...]:
    """The modes to measure ("batched" only where the subnet lets requests merge), after failing before any
    process starts if the subnet lacks the model or the device is absent (LoadTestError says what to pick)."""
    from neurons.batching import batchable, pick_device
    from neurons.config.schema import MinerSection
    from neurons.plugins import load_subnet

    miner = MinerSection(**test.miner)
    try:
        pick_device(miner.device)
    except ValueError as e:
        raise LoadTestError(str(e)) from None

    spec = load_subnet(test.subnet)
    factories = spec.miners()
    if miner.model not in factories:
        raise LoadTestError(f"subnet {test.subnet} has no model {miner.model!r}; choose one of: "
                            f"{', '.join(sorted(factories))}")
    if not (1 <= test.validators <= MAX_VALIDATORS and test.rows >= 1 and test.rounds >= 1 and test.seconds > 0):
        raise LoadTestError(f"--validators must be 1..{MAX_VALIDATORS}, --rows and --rounds at least 1 and "
                            "--seconds above 0")
    return MODES if batchable(spec) else MODES[:1]


def _stop(pipes: dict, stopped: set) -> None:
    """Tell every miner not yet told to stop (one that failed has closed its end: nothing to tell)."""
    for mode, pipe in pipes.items():
        if mode not in stopped:
            stopped.add(mode)
            try:
                pipe.send("stop")
            except OSError:
                pass


def compare(test: LoadTest, progress: Callable[[str], None] = lambda line: None) -> Result:
    """Start the miners, measure them in alternating windows, stop them; raises LoadTestError. A subnet whose
    requests cannot merge (batchable) gets the unbatched miner alone."""
    modes = check(test)
    ctx = mp.get_context("spawn")
    procs, pipes, info, stopped = {}, {}, {}, set()
    run = secrets.token_hex(16)
    try:
        for mode in modes:
            pipes[mode], child = ctx.Pipe()
            procs[mode] = ctx.Process(target=_miner, args=(test, run, mode, child), daemon=True)
            procs[mode].start()
            child.close()  # the child's end lives in the child: a miner that dies is an EOFError here
        progress(f"starting {test.miner.get('model', 'the default')} miners ({', '.join(modes)}) for {test.validators} validators")
        for mode in modes:
            msg = pipes[mode].recv() if pipes[mode].poll(600) else {"error": "no answer in 600 s"}
            if "error" in msg:
                raise LoadTestError(f"the {mode} miner did not start: {msg['error']}")
            info[mode] = msg
        progress(f"miners up on {info['unbatched']['device']}; measuring {test.seconds:g} s each in {test.rounds} "
                 "alternating windows")
        outcomes = asyncio.run(_drive(test, run, info, progress))
        _stop(pipes, stopped)
        counts = pipes["batched"].recv() if "batched" in pipes and pipes["batched"].poll(30) else {}
    except EOFError:  # the process died without a word (killed, out of memory, a crash in native code)
        for p in procs.values():
            p.join(2)
        codes = ", ".join(f"{m} exit code {p.exitcode}" for m, p in procs.items() if p.exitcode is not None)
        raise LoadTestError(f"a miner process died during start-up ({codes or 'still running'}): a model too "
                            "large for free memory is killed by the system; try a smaller --miner.model or "
                            "free some memory") from None
    finally:
        _stop(pipes, stopped)
        for p in procs.values():
            p.join(10)
            if p.is_alive():
                p.kill()
    return Result(info["unbatched"]["device"], {m: info[m]["threads"] for m in modes}, counts.get("forwards", 0),
                  counts.get("requests", 0), outcomes)
