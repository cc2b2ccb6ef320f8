"""Validator steps/s and where a step's time goes: gate, network, scoring, state save, the rest.

The real `Validator.step` (neurons/validator/loop.py) runs on the dev ledger against text-embedding
reference miners — hashed bag-of-words and random-projection models, alternating — served by real
axons in worker processes on loopback (real sr25519 keys, signed envelopes both ways). Every step:
challenge (16 docstring/code pairs) → features → gate select → dendrite query → validate → gate
training + sampled-Shapley scoring → EMA → weights check → atomic state save.

Time is attributed by wrapping, per validator: `moe.select` and `moe.trainer.train_step` (gate),
the dendrite's `query` (network: signing, the miners' own compute, transport, answer checks),
`neurons.validator.moe.score` (scoring: combine + loss over the sampled Shapley coalitions) and
`store.save` (state save). "other" is the rest (challenge, features, response validation,
metagraph and chain reads). Configurations, measured in alternating windows in the same run:

  64 miners, all queried (top_k 64)             the full fan-out, every answer scored
  64 miners, top_k 4 + 1 explored               the default routing
  64 miners, all queried, unbatched scoring     baseline for the batched coalition path
  8 miners, all queried (top_k 8)               baseline subnet (steps/s ratio column)

    python bench/validator.py            # full run (~2 min), writes bench/results_validator.md
    python bench/validator.py --quick    # short windows, no file
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

SUBNET = "text-embedding"
MODELS = ["bow", "random"]
IP = "127.0.0.2"
PHASES = ["gate", "network", "scoring", "save", "other"]


def miner_name(i: int) -> str:
    return f"bench-m{i}"


def miner_key(i: int):
    from neurons.wallet import DevWallet
    return DevWallet(f"//opensubnet/{miner_name(i)}").hotkey()


# -- miners: worker processes, each serving several axons --------------------------------------------
def worker(indices: list[int], validator: str, conn) -> None:
    import torch
    torch.set_num_threads(1)
    asyncio.run(_worker(indices, validator, conn))


async def _worker(indices: list[int], validator: str, conn) -> None:
    from neurons.axon import Axon, CallerInfo
    from neurons.config.schema import AxonSection
    from neurons.miner import make_forward
    from neurons.runtime import prepare_to_serve
    from subnets.registry import get

    spec = get(SUBNET)
    table = {validator: CallerInfo(0, 1000.0, True)}
    cfg = AxonSection(rate_per_s=1e6, burst=1e6, concurrency=4)
    axons, ports = [], {}
    for i in indices:
        model = spec.miners()[MODELS[i % len(MODELS)]](i)
        ax = Axon(miner_key(i), caller_info=table.get, host=IP, port=0, config=cfg)
        ax.attach(spec.synapse, make_forward(spec, model))
        ports[i] = await ax.start()
        axons.append(ax)
    prepare_to_serve()  # as `neuron miner` does before it serves
    conn.send(ports)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
    for ax in axons:
        await ax.stop(0)


# -- the chain: one subnet of 64 miners, one of 8, the same validator on both ---------------------
def build_chain(tmp: Path, n_big: int, n_small: int, ports: dict[int, int]):
    from chain.dev import DevChain
    from neurons.localsubnet.plan import NeuronPlan
    from neurons.localsubnet.runner import LocalSubnet
    from neurons.wallet import DevWallet

    url = f"dev:{tmp / 'chain.sqlite'}"
    chain = DevChain(str(tmp / "chain.sqlite"))
    hp = {"max_registrations_per_block": 256, "target_registrations_per_interval": 256, "serving_rate_limit": 0}
    plan = [NeuronPlan("validator", "bench-vali", stake_tao=1000)]
    plan += [NeuronPlan("miner", miner_name(i), model=MODELS[i % 2]) for i in range(n_big)]
    big = LocalSubnet(chain, url, SUBNET, plan, tmp)
    big.create(hp)
    big.register_all()                               # funds, registers and stakes every key once
    small = LocalSubnet(chain, url, SUBNET, plan[:1 + n_small], tmp)
    small.create(hp)
    for p in small.plan:                             # the same keys on the baseline subnet
        w = DevWallet(p.coldkey_uri)
        chain.register(small.netuid, w.hotkey().ss58_address, w.coldkey())
    for netuid, n in ((big.netuid, n_big), (small.netuid, n_small)):
        for i in range(n):
            chain.serve_axon(netuid, miner_key(i), IP, ports[i])
    return chain, url, {n_big: big.netuid, n_small: small.netuid}


# -- the validator, instrumented -------------------------------------------------------------------
class Meter:
    def __init__(self):
        self.t = dict.fromkeys(PHASES, 0.0)
        self.steps, self.busy = 0, 0.0

    def row(self) -> dict:
        known = sum(self.t[p] for p in PHASES if p != "other")
        share = {p: self.t[p] / self.busy for p in PHASES if p != "other"}
        share["other"] = max(0.0, self.busy - known) / self.busy
        return {"steps": self.steps, "steps_s": self.steps / self.busy, "ms": 1e3 * self.busy / self.steps, **share}


CURRENT: list[Meter] = []


@contextmanager
def timed(phase: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        CURRENT[-1].t[phase] += time.perf_counter() - t0


def wrap(fn, phase: str):
    if asyncio.iscoroutinefunction(fn):
        async def inner(*a, **k):
            with timed(phase):
                return await fn(*a, **k)
    else:
        def inner(*a, **k):
            with timed(phase):
                return fn(*a, **k)
    return inner


class Unbatched:
    """The same spec without the batched coalition path: scoring loops over coalitions."""
    batched_weights = False

    def __init__(self, spec):
        self._spec = spec

    def __getattr__(self, name):
        return getattr(self._spec, name)


def make_validator(chain, url, netuid, state_dir: Path, top_k: int, explore: int, unbatched: bool):
    from neurons.config.schema import NeuronConfig
    from neurons.validator.loop import Validator
    from neurons.wallet import DevWallet
    from subnets.registry import get

    spec = get(SUBNET)
    cfg = NeuronConfig(chain={"url": url, "netuid": netuid},
                       validator={"state_dir": str(state_dir), "batch_size": 16, "weights_interval_blocks": 10_000},
                       gate={"top_k": top_k, "explore": explore})
    v = Validator(cfg, spec=Unbatched(spec) if unbatched else spec,
                  hotkey=DevWallet("//opensubnet/bench-vali").hotkey(), chain=chain)
    v.moe.select = wrap(v.moe.select, "gate")
    v.moe.trainer.train_step = wrap(v.moe.trainer.train_step, "gate")
    v.store.save = wrap(v.store.save, "save")
    return v


async def measure(validators: dict, seconds: float, rounds: int, dendrite) -> dict:
    meters = {name: Meter() for name in validators}
    for name, v in validators.items():  # warm-up: channels open, first allocations done
        CURRENT.append(meters[name])
        await v.step(dendrite)
        CURRENT.pop()
    for m in meters.values():
        m.__init__()
    for r in range(rounds):
        for name, v in validators.items():
            m = meters[name]
            CURRENT.append(m)
            t_start = time.perf_counter()
            while True:
                await v.step(dendrite)
                m.steps += 1
                if time.perf_counter() - t_start >= seconds / rounds:
                    break
            m.busy += time.perf_counter() - t_start
            CURRENT.pop()
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {meters[n].steps} steps" for n in meters), flush=True)
    return {name: m.row() for name, m in meters.items()}


async def run_validators(chain, url, nets, tmp: Path, args) -> dict:
    import neurons.validator.moe as moe_mod
    from neurons.dendrite import Dendrite
    from neurons.wallet import DevWallet

    moe_mod.score = wrap(moe_mod.score, "scoring")
    big, small = args.miners, args.baseline_miners
    configs = {
        f"{big} miners, all queried": (nets[big], big, 0, False),
        f"{big} miners, top_k 4 + 1 explored": (nets[big], 4, 1, False),
        f"{big} miners, all queried, unbatched scoring": (nets[big], big, 0, True),
        f"{small} miners, all queried (baseline)": (nets[small], small, 0, False),
    }
    validators = {name: make_validator(chain, url, netuid, tmp / f"state{i}", k, e, u)
                  for i, (name, (netuid, k, e, u)) in enumerate(configs.items())}
    async with Dendrite(DevWallet("//opensubnet/bench-vali").hotkey(), max_concurrency=1024) as d:
        d.query = wrap(d.query, "network")
        return await measure(validators, args.seconds, 3, d)


def table(rows: dict, baseline: str) -> str:
    lines = ["| configuration | steps | steps/s | ms/step | gate | network | scoring | state save | other "
             "| steps/s vs baseline |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = rows[baseline]["steps_s"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['steps']} | {r['steps_s']:.1f} | {r['ms']:.1f} | " +
                     " | ".join(f"{100 * r[p]:.0f}%" for p in PHASES) + f" | {r['steps_s'] / base:.2f}× |")
    return "\n".join(lines)


def summary(rows: dict, n: int) -> str:
    """The two comparisons the table holds, spelled out."""
    full, unb = rows[f"{n} miners, all queried"], rows[f"{n} miners, all queried, unbatched scoring"]
    ms = lambda r: r["ms"] * r["scoring"]
    from neurons.config.schema import NeuronConfig
    perms = NeuronConfig().scoring.permutations
    return (f"- Scoring {n} answers by sampled Shapley ({perms} permutations): {ms(full):.1f} ms/step batched vs "
            f"{ms(unb):.1f} ms/step looping over coalitions ({ms(unb) / ms(full):.0f}× faster); the whole step "
            f"{full['steps_s'] / unb['steps_s']:.1f}× the steps/s.\n"
            f"- With all {n} miners queried, the network (signed fan-out and the miners' own compute on the "
            f"same cores) takes {100 * full['network']:.0f}% of a step; the gate {100 * full['gate']:.0f}%.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short windows, no results file")
    ap.add_argument("--miners", type=int, default=64)
    ap.add_argument("--baseline-miners", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4, help="miner processes")
    ap.add_argument("--seconds", type=float, default=12.0, help="measuring time per configuration")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("results_validator.md"))
    args = ap.parse_args()
    if args.quick:
        args.seconds = 3.0
    import logging
    logging.basicConfig(level=logging.WARNING)
    import torch
    torch.set_num_threads(1)  # as `neuron validator` runs
    from neurons.wallet import DevWallet

    t0 = time.perf_counter()
    vali = DevWallet("//opensubnet/bench-vali").hotkey().ss58_address
    ctx = mp.get_context("spawn")
    pipes, procs, ports = [], [], {}
    for w in range(args.workers):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=worker, args=(list(range(w, args.miners, args.workers)), vali, child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    for parent in pipes:
        ports.update(parent.recv())
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        chain, url, nets = build_chain(tmp, args.miners, args.baseline_miners, ports)
        load0 = os.getloadavg()[0]
        print(f"{args.miners} miners up in {args.workers} processes, subnets {nets} ({time.perf_counter() - t0:.1f} s); "
              f"{os.cpu_count()} cores, load average {load0:.1f}, python {platform.python_version()}, "
              f"torch {torch.__version__}", flush=True)
        from neurons.runtime import prepare_to_serve
        prepare_to_serve()  # as `neuron validator` does before it serves
        try:
            rows = asyncio.run(run_validators(chain, url, nets, tmp, args))
        finally:
            for parent in pipes:
                parent.send("stop")
            for p in procs:
                p.join(10)
            chain.close()
    baseline = next(n for n in rows if n.endswith("(baseline)"))
    md = table(rows, baseline) + "\n\n" + summary(rows, args.miners)
    load = f"{load0:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    print("\n" + md + f"\n\nload average {load}")
    if not args.quick:
        cmd = ("python bench/validator.py " + " ".join(sys.argv[1:])).strip()
        args.out.write_text(_REPORT.format(cmd=cmd, table=md, workers=args.workers, load=load, cores=os.cpu_count(),
                                           seconds=args.seconds, miners=args.miners))
        print(f"wrote {args.out}")
    return 0


_REPORT = """# Validator step benchmark: steps/s and where the time goes

Command: `{cmd}` — the real `Validator.step` in this process (one torch thread, as
`neuron validator` runs), on the dev ledger, against {miners} text-embedding reference miners
(hashed bag-of-words and random projection, alternating) behind real axons in {workers} worker
processes on loopback; {cores} cores (load average {load}: other jobs shared the machine).
Batch of 16 challenges per step, sampled-Shapley scoring (the default `scoring` section). Each configuration runs ~{seconds:g} s,
in three alternating windows after one warm-up step. Shares are of the step's wall time:
gate = select + online training, network = the dendrite query (signing, the miners' own compute
on the same 2 cores, transport, answer checks), scoring = combine + loss over the Shapley
coalitions, state save = the atomic fsynced save after every step, other = challenge, features,
response validation, metagraph and chain reads.

{table}
"""

if __name__ == "__main__":
    sys.exit(main())
