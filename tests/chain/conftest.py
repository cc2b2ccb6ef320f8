"""Chain backends as fixtures: `chain_backend` runs a test on the dev ledger and on the local real
runtime (skipped with a message when that runtime is not available); `dev_chain` is the dev ledger only."""
from __future__ import annotations

import pytest

try:  # written by the local-runtime work; it skips by itself when Chopsticks or the spec is missing
    from localnet_fixture import local_chain, local_chain_293  # noqa: F401  (pytest fixtures)
    HAVE_LOCAL = True
except ImportError:
    HAVE_LOCAL = False


@pytest.fixture
def dev_chain(tmp_path):
    from chain.dev import DevChain

    chain = DevChain(str(tmp_path / "ledger.sqlite"))
    try:
        yield chain
    finally:
        chain.close()


@pytest.fixture(params=["dev", pytest.param("local", marks=pytest.mark.localnet),
                        pytest.param("local293", marks=pytest.mark.localnet)])
def chain_backend(request):
    """The dev ledger, the spec-148 runtime (`local`) and the dTAO spec-293 runtime (`local293`)."""
    if request.param == "dev":
        return request.getfixturevalue("dev_chain")
    if not HAVE_LOCAL:
        pytest.skip("local runtime fixture not available (tests/chain/localnet_fixture.py is missing)")
    return request.getfixturevalue("local_chain" if request.param == "local" else "local_chain_293")
