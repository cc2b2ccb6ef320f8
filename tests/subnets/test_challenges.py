"""Challenges a miner cannot precompute: secret seeds, per-challenge perturbation, the check's warning."""
import ast
import os
import random
import stat

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.dev import DevChain
from chain.errors import ChainError
from neurons.validator.seed import SECRET_FILE, SecretFileError, challenge_seed, load_or_create_secret
from subnets.check import memorisation_warnings
from subnets.spec import Challenge
from subnets.template import DIM, Template
from subnets.text.corpus import code_pairs
from subnets.text.perturb import KEEP, local_names, rename_function


def test_the_secret_is_created_private_once_and_kept(tmp_path):
    secret = load_or_create_secret(tmp_path / "vali")
    path = tmp_path / "vali" / SECRET_FILE
    assert len(secret) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "vali") == secret  # a restart keeps it
    assert load_or_create_secret(tmp_path / "other") != secret  # every validator draws its own


def test_a_secret_others_can_read_or_a_broken_one_is_refused(tmp_path):
    load_or_create_secret(tmp_path)
    path = tmp_path / SECRET_FILE
    os.chmod(path, 0o644)
    with pytest.raises(SecretFileError, match="readable by other users") as e:
        load_or_create_secret(tmp_path)
    assert "chmod 600" in e.value.hint
    os.chmod(path, 0o600)
    path.write_text("not hex\n")
    with pytest.raises(SecretFileError, match="not a hex secret"):
        load_or_create_secret(tmp_path)
    path.write_text("ab" * 8 + "\n")
    with pytest.raises(SecretFileError, match="holds 8 bytes"):
        load_or_create_secret(tmp_path)


@settings(max_examples=50, deadline=None)
@given(secret=st.binary(min_size=16, max_size=64), other=st.binary(min_size=16, max_size=64),
       block=st.binary(min_size=32, max_size=32), netuid=st.integers(0, 2**16), step=st.integers(0, 2**40))
def test_the_seed_depends_on_secret_block_subnet_and_step(secret, other, block, netuid, step):
    seed = challenge_seed(secret, block, netuid, step)
    assert 0 <= seed < 2**63 and seed == challenge_seed(secret, block, netuid, step)  # a logged seed replays
    assert seed != challenge_seed(secret, block, netuid, step + 1)
    assert seed != challenge_seed(secret, bytes(b ^ 1 for b in block), netuid, step)
    if other != secret:  # the same public inputs under another secret: another seed
        assert seed != challenge_seed(other, block, netuid, step)


def test_dev_ledger_gives_a_hash_per_block_and_refuses_future_ones():
    chain = DevChain()
    try:
        chain.advance_blocks(2)
        hashes = [chain.block_hash(n) for n in range(3)]
        assert all(len(h) == 32 for h in hashes) and len(set(hashes)) == 3
        assert chain.block_hash(1) == hashes[1]
        with pytest.raises(ChainError, match="no block"):
            chain.block_hash(chain.block() + 5)
    finally:
        chain.close()


def test_renaming_keeps_the_code_valid_and_changes_its_text():
    rng, pairs = random.Random(0), random.Random(1).sample(code_pairs("eval"), 60)
    changed = 0
    for p in pairs:
        new = rename_function(p["code"], rng)
        tree, old = ast.parse(new), ast.parse(p["code"])  # still valid Python
        assert [type(n).__name__ for n in ast.walk(tree)] == [type(n).__name__ for n in ast.walk(old)]
        if local_names(p["code"]) - KEEP:  # it has locals to rename: its own name stays
            assert new.split("(")[0] == p["code"].split("(")[0]
        changed += new != p["code"]
    assert changed >= 58


class FixedPool(Template):
    """A spec drawing verbatim from 40 fixed public vectors: what the check must flag."""

    def challenge(self, seed, batch_size):
        pool = torch.rand(40, DIM, generator=torch.Generator().manual_seed(0)) * 2 - 1
        x = pool[torch.randperm(40, generator=torch.Generator().manual_seed(seed))[:batch_size]]
        return Challenge(seed, {"x": x}, x.sum(1))


def test_the_check_warns_about_a_fixed_public_pool_only(embedding):
    warning = memorisation_warnings(FixedPool())
    assert len(warning) == 1 and "repeat exactly under other seeds" in warning[0]
    assert memorisation_warnings(Template()) == []        # fresh random vectors every challenge
    assert memorisation_warnings(embedding) == []         # code renamed per challenge
