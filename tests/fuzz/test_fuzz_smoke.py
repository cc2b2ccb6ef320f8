"""CI version of the fuzz harness: every target, seeded random + mutated bytes, under a memory cap.

The coverage-guided run (atheris) is `python bench/fuzz.py --seconds 60`; this one needs nothing
beyond the test dependencies and takes a few seconds.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fuzz_driver import Recorder
from fuzz_targets import TARGETS, Target

DRIVER = Path(__file__).with_name("fuzz_driver.py")
EXECS = 3000  # per target, seeds included


def test_every_parser_survives_random_and_mutated_bytes(tmp_path):
    out = tmp_path / "summary.json"
    proc = subprocess.run([sys.executable, str(DRIVER), "all", "--engine", "random", "--execs", str(EXECS),
                           "--seed", "1", "--artifacts", str(tmp_path), "--json", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert out.exists(), proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert set(summary) == set(TARGETS)
    findings = {f"{name}: {sig}": f for name, s in summary.items() for sig, f in s["findings"].items()}
    assert not findings, json.dumps(findings, indent=1)[:4000]
    assert all(s["execs"] >= EXECS for s in summary.values()), summary
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_finding_is_recorded_once_with_its_input(tmp_path):
    def parse_digits(data: bytes) -> None:
        try:
            int(data.decode("ascii"))
        except UnicodeDecodeError:  # the "typed error" of this toy parser; ValueError is the bug
            pass

    rec = Recorder(Target("toy", parse_digits, lambda: [b"1"]), str(tmp_path))
    for data in (b"12", b"\xff", b"x", b"y"):
        rec(data)
    assert rec.execs == 4
    [(sig, finding)] = rec.findings.items()
    assert sig.startswith("ValueError at tests/fuzz/test_fuzz_smoke.py:")
    assert finding["count"] == 2 and Path(finding["input"]).read_bytes() == b"x"


def test_memory_cap_turns_an_oversized_allocation_into_memory_error():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from fuzz_driver import cap_memory; cap_memory(64)\n"
            "try:\n    bytearray(1 << 30)\nexcept MemoryError:\n    print('capped')\n"
            "bytearray(16 << 20); print('ok')")
    proc = subprocess.run([sys.executable, "-c", code, str(DRIVER.parent)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["capped", "ok"], proc.stderr
