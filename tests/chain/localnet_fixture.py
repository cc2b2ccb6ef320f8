"""pytest fixture `local_chain`: a fresh `Chain` on the real subtensor runtime under Chopsticks.

One Chopsticks process per test session (own port and state directory, stopped by its PID at the
end); each test starts from the same freshly relaxed chain state (rewound with dev_setHead).
Skips, saying what is missing and how to get it, when node, Chopsticks or the chain spec is absent.

Use it with `from localnet_fixture import local_chain` in a test module under tests/chain/.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from chain.errors import ChainError


@contextmanager
def private_chain(state_dir, runtime: int):
    """A relaxed LocalChain on a Chopsticks of its own in `state_dir` (stopped on exit), for tests that
    need a chain nobody else touches; pytest.skip, saying what is missing and how to get it, without one."""
    from chain.localnet import process
    from chain.localnet.bootstrap import relax_chain
    from chain.localnet.chopsticks import ChopsticksMissing
    from chain.localnet.local import LocalChain
    from chain.localnet.spec import ChainSpecMissing

    try:
        st, _ = process.start(port=process.free_port(), state_dir=state_dir, install=False, runtime=runtime)
    except (ChainSpecMissing, ChopsticksMissing) as exc:
        pytest.skip(f"spec-{runtime} tests need: {exc} -> {exc.hint}")
    try:
        chain = LocalChain(st.url)
        chain.log_file = st.log_file
        try:
            relax_chain(chain)
            yield chain
        finally:
            chain.close()
    finally:
        process.stop(state_dir)


@dataclass
class _Session:
    url: str | None = None
    base_block: int = 0
    skip_reason: str | None = None


_STATE: dict[str, _Session] = {}


def _start(config: pytest.Config, tmp_root, runtime: int) -> _Session:
    from chain.localnet import process
    from chain.localnet.bootstrap import relax_chain
    from chain.localnet.chopsticks import ChopsticksMissing
    from chain.localnet.local import LocalChain
    from chain.localnet.spec import ChainSpecMissing

    state_dir = tmp_root / "localnet"
    try:
        st, _ = process.start(port=process.free_port(), state_dir=state_dir, install=False, runtime=runtime)
    except (ChainSpecMissing, ChopsticksMissing) as exc:
        return _Session(skip_reason=f"local runtime tests need: {exc} -> {exc.hint}")
    config.add_cleanup(lambda: process.stop(state_dir))
    try:
        with LocalChain(st.url, practical=False) as chain:
            relax_chain(chain)
            return _Session(url=st.url, base_block=chain.block())
    except ChainError:
        process.stop(state_dir)
        raise


def _fresh_chain(request, tmp_path_factory, runtime: int):
    """A LocalChain (subtensor backend + dev_newBlock) on a chain rewound to its relaxed genesis."""
    from chain.localnet.local import LocalChain

    if runtime not in _STATE:
        _STATE[runtime] = _start(request.config, tmp_path_factory.mktemp(f"chopsticks{runtime}"), runtime)
    session = _STATE[runtime]
    if session.skip_reason:
        pytest.skip(session.skip_reason)
    chain = LocalChain(session.url)
    chain.reset(session.base_block)
    try:
        yield chain
    finally:
        chain.close()


@pytest.fixture
def local_chain(request, tmp_path_factory):
    """The spec-148 runtime (May 2024), the exact-epoch one."""
    yield from _fresh_chain(request, tmp_path_factory, 148)


@pytest.fixture
def local_chain_293(request, tmp_path_factory):
    """The spec-293 runtime (July 2025, dTAO)."""
    yield from _fresh_chain(request, tmp_path_factory, 293)
