"""Fixtures of the journeys: `shell`, a home of its own on a fresh dev ledger and, when its chain spec
and Chopsticks are present, on the local spec-148 runtime; `cache`, the OPENSUBNET_CACHE they share."""
from __future__ import annotations

import shutil

import pytest
from journey_shell import SPEC_NAME, BlockPacer, Shell, free_port, local_runtime_missing, real_cache


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """One OPENSUBNET_CACHE for the journeys: the text corpus extracted once (from the user's cache when
    there is one), the localnet state dir, and the user's chain spec and Chopsticks."""
    root = tmp_path_factory.mktemp("opensubnet-cache")
    if (real_cache() / "corpus").is_dir():
        shutil.copytree(real_cache() / "corpus", root / "corpus")
    if local_runtime_missing() is None:
        (root / "chainspecs").mkdir()
        shutil.copy(real_cache() / "chainspecs" / SPEC_NAME, root / "chainspecs")
        (root / "chopsticks").symlink_to(real_cache() / "chopsticks")
    return root


@pytest.fixture(params=["dev", pytest.param("local", marks=[pytest.mark.localnet, pytest.mark.timeout(900)])])
def shell(request, tmp_path, cache):
    if request.param == "dev":
        sh = Shell(tmp_path, f"dev:{tmp_path / 'chain.sqlite'}", cache=cache)
        try:
            yield sh
        finally:
            sh.stop_all()
        return
    missing = local_runtime_missing()
    if missing:
        pytest.skip(missing)
    port = free_port()
    sh = Shell(tmp_path, f"local:{port}", cache=cache)
    sh.run("localnet", "start", "--port", str(port), "--no-install", timeout=300)
    pacer = BlockPacer(sh)
    try:
        yield sh
    finally:
        sh.stop_all()
        pacer.stop()
        sh.run("localnet", "stop", ok=False)
