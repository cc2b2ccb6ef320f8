"""Real sudo calls that make the local chain practical: chain-wide limits relaxed once after start,
and per new subnet a short tempo, no weights rate limit, many registrations per block, plus root
network weights so the subnet earns emission (spec 148 pays a subnet only if root weights it)."""
from __future__ import annotations

import logging

from substrateinterface import Keypair

from chain.local_subnet import COMMIT_REVEAL_KEYS, LOCAL_SUBNET, LOCAL_TEMPO
from chain.localnet.config import ROOT_HOTKEY_URI
from chain.subtensor import SubtensorChain, hyperparams

log = logging.getLogger(__name__)
ROOT_NETUID = 0
ROOT_TEMPO = 5
ROOT_STAKE = 1000 * 10**9

#: per-subnet values set right after `create_subnet` on the local chain (the tempo is set apart)
PRACTICAL = {k: v for k, v in LOCAL_SUBNET.items() if k != "tempo"}


def sudo_key() -> Keypair:
    return Keypair.create_from_uri("//Alice")


def root_hotkey() -> Keypair:
    return Keypair.create_from_uri(ROOT_HOTKEY_URI)


def _u64(value: int) -> str:
    return "0x" + int(value).to_bytes(8, "little").hex()


def relax_chain(chain: SubtensorChain) -> None:
    """No subnet-creation or tx rate limits, cheap subnets, many stakes per interval, a fast root
    network and a staked root validator that will weight every subnet. Safe to run twice."""
    alice = sudo_key()
    calls = [("AdminUtils", "sudo_set_network_rate_limit", {"rate_limit": 0}),
             ("AdminUtils", "sudo_set_tx_rate_limit", {"tx_rate_limit": 0}),
             ("AdminUtils", "sudo_set_network_min_lock_cost", {"lock_cost": 100 * 10**9})]
    if chain.shape.has_storage("SubtensorModule", "TargetStakesPerInterval"):
        # no AdminUtils call exists for it on spec 148: set it with the root-only System.set_storage
        key = chain.storage_key("SubtensorModule", "TargetStakesPerInterval")
        calls.append(("System", "set_storage", {"items": [(key, _u64(1_000_000))]}))
    if not chain.shape.stakes_per_subnet:   # before dTAO subnets emit by root weights: a fast root network
        calls += [("AdminUtils", *hyperparams.setter(chain.shape, ROOT_NETUID, "tempo", ROOT_TEMPO)),
                  ("AdminUtils", *hyperparams.setter(chain.shape, ROOT_NETUID, "weights_rate_limit", 0))]
    chain.submit("Utility", "batch_all", {"calls": [chain.compose_call(*c) for c in calls]}, alice, sudo=True,
                 what="Utility.batch_all of " + ", ".join(f"{p}.{c}" for p, c, _ in calls))
    if chain.shape.stakes_per_subnet:   # dTAO: subnets emit after start_call, not by root weights
        log.info("local chain relaxed: no network/tx rate limits (dTAO runtime %d)", chain.shape.spec_version)
        return
    root = root_hotkey()
    if chain.uid(ROOT_NETUID, root.ss58_address) is None:
        chain.submit("SubtensorModule", "root_register", {"hotkey": root.ss58_address}, alice)
        chain.add_stake(alice, root.ss58_address, ROOT_STAKE)
    log.info("local chain relaxed: no network/tx rate limits, root validator %s staked", root.ss58_address[:8])


def make_practical(chain: SubtensorChain, netuid: int, tempo: int = LOCAL_TEMPO, owner: Keypair | None = None) -> None:
    """Short tempo and relaxed limits on `netuid`, then root weights spread over all subnets
    (relaxing the chain first if nobody did, e.g. a Chopsticks started by hand); on dTAO runtimes
    start_call instead of root weights."""
    alice = sudo_key()
    if not chain.shape.stakes_per_subnet and chain.uid(ROOT_NETUID, root_hotkey().ss58_address) is None:
        relax_chain(chain)
    # spec 148 has no commit-reveal: its subnets keep direct set_weights
    values = {name: value for name, value in PRACTICAL.items() if name not in COMMIT_REVEAL_KEYS
              or chain.shape.has_call("AdminUtils", "sudo_set_commit_reveal_weights_enabled")}
    chain.set_hyperparameters(netuid, {"tempo": tempo, **values}, alice)
    if chain.shape.stakes_per_subnet:
        chain.start_call(netuid, owner or alice)
    else:
        weight_subnets(chain)


def weight_subnets(chain: SubtensorChain) -> None:
    """Root validator weights every non-root subnet equally, so each earns emission."""
    subnets = [n for n in chain.subnets() if n != ROOT_NETUID]
    if not subnets:
        return
    chain.set_weights(ROOT_NETUID, root_hotkey(), subnets, [65535] * len(subnets))
