"""Soak: a miner and a validator run for a while; their memory and open files must stay flat.

Bounds (after warm-up): RSS grows < 32 MiB per process in the CI minute (< 64 MiB over 30 minutes,
bench/soak.py) and open file descriptors by at most 4. `--long` / OPENSUBNET_LONG=1: 10 minutes.
"""
from __future__ import annotations

from harness import long_mode
from soak import format_table, run_soak

RSS_BOUND_MIB = 32
FD_BOUND = 4


def test_miner_and_validator_stay_flat(tmp_path, request):
    r = run_soak(tmp_path, seconds=600 if long_mode(request.config) else 60, sample_s=5)
    print("\n" + format_table(r))
    assert not r.errors, r.errors[:5]
    assert r.steps > 20 and r.weights_set >= 2, format_table(r)    # it really worked all along
    for name, s in r.procs.items():
        assert s.rss_growth_mib < RSS_BOUND_MIB, format_table(r)
        assert s.fd_growth <= FD_BOUND, f"{name}: fds {s.fds}"
