"""Options for the whole suite. `--long` (or OPENSUBNET_LONG=1): the full reliability runs (50 validator kill cycles, more chain drops)."""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="reliability tests: run the full versions (also OPENSUBNET_LONG=1)")


# -- scheduling on pytest-xdist workers -------------------------------------------------------------
# Seconds each long unit took on 2 cores (junit times of a full run with both chain specs,
# 2026-12-06). Units run longest first, so that the run does not end waiting on a long unit that
# started last. A stale or missing entry changes only the order, never what runs.
_SECONDS = {
    "tests/chain/test_subtensor_spec293.py": 328,
    "tests/journeys/test_demo_dtao.py": 167,
    "tests/reliability/test_validator_kill_commit_reveal_293.py": 151,
    "tests/journeys/test_journeys.py::test_validator_journey[local]": 143,
    "tests/journeys/test_creator_journey.py::test_subnet_creator_journey[local]": 113,
    "tests/chain/test_conformance.py::test_precheck_why_not_is_the_chains_refusal[local293]": 113,
    "tests/chain/test_localnet_runtimes.py": 84,
    "tests/chain/test_conformance.py::test_commit_reveal[local293]": 79,
    "tests/chain/test_conformance.py::test_metagraph_after_epochs[local293]": 76,
    "tests/chain/test_subtensor_backend.py": 72,
    "tests/reliability/test_soak.py": 69,
    "tests/journeys/test_journeys.py::test_validator_journey[dev]": 69,
    "tests/chain/test_conformance.py::test_set_weights_success_and_errors[local293]": 68,
    "tests/neurons/test_e2e_subnet.py": 64,
    "tests/subnets/test_text_next_token.py": 62,
    "tests/chain/test_conformance.py::test_weights_limits_and_scores_to_u16[local293]": 60,
    "tests/journeys/test_creator_journey.py::test_subnet_creator_journey[dev]": 60,
    "tests/reliability/test_chain_drop.py": 57,
    "tests/journeys/test_journeys.py::test_miner_journey[local]": 55,
    "tests/chain/test_conformance.py::test_register_uids_in_order_idempotent_and_errors[local293]": 52,
    "tests/reliability/test_validator_kill_commit_reveal.py": 50,
    "tests/neurons/test_cli_miner.py": 44,
    "tests/reliability/test_chain_delay.py": 42,
    "tests/neurons/test_wallet_import.py": 41,
    "tests/chain/test_conformance.py::test_serve_axon[local293]": 40,
    "tests/chain/test_conformance.py::test_stake_unstake_and_balances[local293]": 40,
}
# Files whose tests share no module or session state worth keeping together: each test is a unit of
# its own (a worker starts its own Chopsticks once, then reuses it); every other file is one unit.
_PER_TEST = ("tests/chain/test_conformance.py", "tests/journeys/test_journeys.py",
             "tests/journeys/test_creator_journey.py")


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return nodeid if path in _PER_TEST else path


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Longest units first (a stable sort: within a file, tests keep their order)."""
    items.sort(key=lambda item: -_SECONDS.get(_unit(item.nodeid), 0))


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """For the suite's own `--dist loadfile` (addopts): whole files to a worker, except the files of
    _PER_TEST, in the order collected (--no-loadscope-reorder). Another --dist gets xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return UnitScheduling(config, log)
