"""A miner operator asks `neuron bench` whether to batch: two local miners, validators against them, a
table and a line saying what to run. As a person at a shell sees it (a subprocess; nothing imported)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from journey_shell import Shell

BENCH = ["bench", "--subnet.name", "text-embedding", "--miner.model", "bow", "--validators", "3", "--rows", "2",
         "--seconds", "1.2", "--rounds", "2", "--miner.batch_max_wait_ms", "50"]


@pytest.fixture
def sh(tmp_path):
    shell = Shell(tmp_path, "dev:unused")  # no chain: the miners run under throwaway dev keys
    try:
        yield shell
    finally:
        shell.stop_all()


def _row(out: str, mode: str) -> list[str]:
    [line] = [ln for ln in out.splitlines() if ln.split()[:1] == [mode]]
    return line.split()


def test_bench_measures_both_miners_and_says_what_to_run(sh):
    proc = sh.run(*BENCH, timeout=240)
    out = proc.stdout
    head = out.splitlines()[0].split()
    assert head[:3] == ["miner", "requests/s", "rows/s"], out
    rows = {mode: _row(out, mode) for mode in ("unbatched", "batched")}
    for mode, cells in rows.items():
        rps, rows_s, answered, failed = float(cells[1]), float(cells[2]), int(cells[5]), int(cells[6])
        assert rps > 0 and answered > 0 and failed == 0, out
        assert rows_s == pytest.approx(2 * rps, rel=0.02, abs=1), out  # 2 rows in every request
    ratio = float(rows["batched"][-1].rstrip("×"))
    assert ratio == pytest.approx(float(rows["batched"][1]) / float(rows["unbatched"][1]), abs=0.02), out
    forwards, requests = map(int, re.search(r"ran (\d+) forwards for (\d+) requests", out).groups())
    assert 0 < forwards < requests, out  # three validators at once: the batched miner merged some of them
    [advice] = [ln for ln in out.splitlines() if "--miner.batching" in ln]
    assert f"{ratio:.2f}×" in advice or "deadline" in advice, out
    assert "keep it" in advice or "`neuron miner ... --miner.batching o" in advice, out
    assert "window 2/2 batched" in proc.stderr, proc.stderr  # progress, one line per window


def test_bench_refuses_an_unknown_model_before_starting_anything(sh):
    proc = sh.run("bench", "--subnet.name", "text-embedding", "--miner.model", "no-such-model", ok=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no model 'no-such-model'" in proc.stderr and "minilm" in proc.stderr, proc.stderr
    assert "bow" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "starting two" not in proc.stderr, proc.stderr


def test_bench_on_a_subnet_whose_requests_cannot_merge_measures_one_miner_and_says_why(sh):
    sh.run("subnet", "new", "mysub")  # the template: rows not declared independent
    proc = sh.run("bench", "--subnet.name", "mysub.py", "--miner.model", "exact", "--validators", "2",
                  "--seconds", "0.5", "--rounds", "1", timeout=240)
    out = proc.stdout
    assert float(_row(out, "unbatched")[1]) > 0, out
    assert not [ln for ln in out.splitlines() if ln.startswith("batched")], out
    assert "does not declare its rows independent" in out and "whatever --miner.batching says" in out, out


def test_sigterm_stops_the_bench_and_its_miners(sh):
    sh.start("bench", *BENCH[:-6], "--seconds", "600", "--rounds", "2")
    proc, _ = sh.procs["bench"]
    sh.wait_log("bench", r"miners up on", timeout=120)
    miners = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                             text=True).stdout.split()]
    assert len(miners) >= 2, miners  # the two miners (and multiprocessing's resource tracker)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 130, sh.log("bench")
    assert "interrupted" in sh.log("bench") and "Traceback" not in sh.log("bench"), sh.log("bench")
    deadline = time.monotonic() + 10
    while any(os.path.exists(f"/proc/{pid}") for pid in miners) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in miners if os.path.exists(f"/proc/{pid}")], "miner processes outlived the bench"


def test_a_miner_killed_while_loading_is_reported_not_waited_for(sh):
    """A model that takes the process down (as the system's OOM killer would) ends the bench at once with
    what happened and what to try, instead of waiting on a pipe nobody will write to."""
    sh.run("subnet", "new", "crashy")
    path = sh.root / "crashy.py"
    path.write_text(path.read_text() + """

class _Killed(Exact):
    def __init__(self, seed):
        import os
        os._exit(137)


Crashy.miners = lambda self: {"exact": Exact, "killed": _Killed}
""")
    t0 = time.monotonic()
    proc = sh.run("bench", "--subnet.name", "crashy.py", "--miner.model", "killed", "--validators", "1",
                  "--seconds", "0.5", "--rounds", "1", ok=False, timeout=120)
    assert proc.returncode == 2 and time.monotonic() - t0 < 60, proc.stderr
    assert "died during start-up" in proc.stderr and "exit code 137" in proc.stderr, proc.stderr
    assert "--miner.model" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
