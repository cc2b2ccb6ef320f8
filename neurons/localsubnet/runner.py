"""Run a whole local subnet: chain, subnet, registrations, miner and validator processes, epochs.

The runner is the only block producer: it advances the chain one block every `block_time`
seconds (dev ledger and local runtime alike), reads the metagraph after each epoch, and stops
every process it started, whatever happens.
"""
from __future__ import annotations

import logging
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from substrateinterface import Keypair

from chain import Chain, Metagraph, RAO_PER_TAO
from neurons.localsubnet.plan import NeuronPlan
from neurons.wallet import DevWallet
from neurons.localsubnet.procs import Children

log = logging.getLogger("opensubnet.localsubnet")

AXON_IP = "127.0.0.2"          # the runtime rejects exactly 127.0.0.1 in serve_axon; .2 is loopback too
FUND_COLD_TAO = 5_000
FUND_HOT_TAO = 10


def epoch_blocks_after(block: int, netuid: int, tempo: int) -> int:
    """The next block >= `block` whose on_initialize runs the subnet's epoch ((B+netuid+2) % (tempo+1) == 0)."""
    return block + (-(block + netuid + 2)) % (tempo + 1)


@dataclass
class EpochRecord:
    epoch: int
    block: int
    metagraph: Metagraph


@dataclass
class LocalSubnet:
    chain: Chain
    chain_url: str
    subnet: str
    plan: list[NeuronPlan]
    out_dir: Path
    epochs: int = 3
    tempo: int = 10
    block_time: float = 1.0
    timeout_s: float = 600.0
    validator_args: list[str] = field(default_factory=list)
    api: bool = False              # validators also serve the mixture to applications (`neuron query`)
    netuid: int | None = None
    uids: dict[str, int] = field(default_factory=dict)
    records: list[EpochRecord] = field(default_factory=list)

    # --- setup -------------------------------------------------------------------------------
    def create(self, hyperparameters: dict) -> int:
        sudo = Keypair.create_from_uri("//Alice")
        self.netuid = self.chain.create_subnet(sudo)
        params = {"weights_rate_limit": 0, "max_registrations_per_block": 64,
                  "target_registrations_per_interval": 64, **hyperparameters, "tempo": self.tempo}
        current = self.chain.hyperparameters(self.netuid).as_dict()
        # only real changes (some are read-only on some runtimes), in one extrinsic
        self.chain.set_hyperparameters(self.netuid, {k: v for k, v in params.items() if current.get(k) != v}, sudo)
        log.info("created subnet %d (tempo %d) on %s", self.netuid, self.tempo, self.chain_url)
        return self.netuid

    def register_all(self) -> None:
        alice = Keypair.create_from_uri("//Alice")
        for p in self.plan:
            wallet = DevWallet(p.coldkey_uri)
            hot, cold = wallet.hotkey(), wallet.coldkey()
            self.chain.transfer(alice, cold.ss58_address, FUND_COLD_TAO * RAO_PER_TAO)
            self.chain.transfer(alice, hot.ss58_address, FUND_HOT_TAO * RAO_PER_TAO)
            uid = self.chain.register(self.netuid, hot.ss58_address, cold)
            if p.stake_rao:
                self.chain.add_stake(cold, hot.ss58_address, p.stake_rao, netuid=self.netuid)
            self.uids[p.name] = uid
            log.info("registered %-22s uid %d%s", p.name, uid, f", staked {p.stake_tao} TAO" if p.stake_tao else "")

    # --- processes ---------------------------------------------------------------------------
    def start_neurons(self, children: Children, role: str) -> None:
        common = ["--chain", self.chain_url, "--netuid", str(self.netuid), "--subnet.name", self.subnet]
        for p in (p for p in self.plan if p.role == role):
            args = [p.role, *common, "--wallet", p.coldkey_uri]
            if p.role == "miner":
                args += ["--miner.model", p.model, "--seed", str(p.seed), "--axon.host", AXON_IP, "--axon.external_ip", AXON_IP,
                         "--axon.port", str(_free_port())]
            else:
                args += ["--validator.state_dir", str(self.out_dir / "state"), *self.validator_args]
                if self.api:
                    args += ["--validator.api_port", str(_free_port()), "--validator.api_host", AXON_IP,
                             "--validator.api_external_ip", AXON_IP]
            children.python(p.name, args)
        log.info("started the %ss (logs in %s)", role, children.log_dir)

    def launch(self, children: Children, hyperparameters: dict | None = None) -> None:
        """Create the subnet, register everyone, start the miners, wait until they serve, start the validators."""
        self.create(hyperparameters or {})
        self.register_all()
        self.start_neurons(children, "miner")
        self.wait_for_miners(children)
        self.wait_for_permits(children)
        self.start_neurons(children, "validator")

    # --- blocks ------------------------------------------------------------------------------
    def _tick(self, children: Children, deadline: float, what: str) -> int:
        """Produce one block, paced to `block_time`; fail fast when a child died or time ran out."""
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {self.timeout_s:.0f}s: see the logs in {children.log_dir}")
        if dead := children.dead():
            c = dead[0]
            raise RuntimeError(f"{c.name} exited with code {c.proc.returncode}; last log lines:\n{c.tail()}")
        t0 = time.monotonic()
        head = self.chain.advance_blocks(1)
        time.sleep(max(0.0, self.block_time - (time.monotonic() - t0)))
        return head

    def wait_for_permits(self, children: Children) -> None:
        """Produce blocks until every validator holds a validator permit (an epoch grants them):
        miners serve only permit holders by default (axon.require_validator_permit)."""
        deadline = time.monotonic() + self.timeout_s
        validators = [self.uids[p.name] for p in self.plan if p.role == "validator"]
        while not all(self.chain.metagraph(self.netuid).validator_permit[u] for u in validators):
            self._tick(children, deadline, "validator permits (granted at the next epoch)")
        log.info("validators %s hold validator permits", validators)

    def wait_for_miners(self, children: Children) -> None:
        """Produce blocks until every miner has announced its axon on chain (models take a while to load)."""
        deadline = time.monotonic() + self.timeout_s
        miners = [self.uids[p.name] for p in self.plan if p.role == "miner"]
        while True:
            mg = self.chain.metagraph(self.netuid)
            up = sum(1 for u in miners if mg.axons[u] is not None and mg.axons[u].serving)
            log.info("block %d: %d/%d miners serving", mg.block, up, len(miners))
            if up == len(miners):
                return
            for _ in range(3):
                self._tick(children, deadline, "all miners serving")

    # --- epochs ------------------------------------------------------------------------------
    def run_epochs(self, children: Children, progress=None) -> list[EpochRecord]:
        """Produce blocks until `epochs` epochs have paid incentive; one record per epoch."""
        deadline = time.monotonic() + self.timeout_s
        miners = [self.uids[p.name] for p in self.plan if p.role == "miner"]
        head = self.chain.block()
        next_epoch = epoch_blocks_after(head + 1, self.netuid, self.tempo)
        epoch = 0
        while sum(1 for r in self.records if r.metagraph.incentive[miners].sum() > 0) < self.epochs:
            head = self._tick(children, deadline, f"{self.epochs} paying epochs")
            if head >= next_epoch:
                epoch += 1
                mg = self.chain.metagraph(self.netuid)
                self.records.append(EpochRecord(epoch, head, mg))
                next_epoch = epoch_blocks_after(head + 1, self.netuid, self.tempo)
                paid = sum(1 for r in self.records if r.metagraph.incentive[miners].sum() > 0)
                log.info("epoch %d at block %d: incentive %s (paying epochs %d/%d)", epoch, head,
                         np.array2string(mg.incentive[miners], precision=3), paid, self.epochs)
            if progress:
                progress(head, next_epoch, epoch)
        return self.records


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def progress_line(head: int, next_epoch: int, epoch: int) -> None:
    """One status line, rewritten in place on a terminal."""
    msg = f"block {head}  epoch {epoch}  next epoch in {max(0, next_epoch - head)} blocks"
    if sys.stderr.isatty():
        print("\r" + msg.ljust(60), end="", file=sys.stderr, flush=True)
