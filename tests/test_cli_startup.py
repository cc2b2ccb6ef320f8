"""`neuron` commands that need no model start without loading torch (about 1.3 s less per command:
wallet, transfer, stake, subnet create, metagraph, audit … are what operators and the journeys run
most). A subprocess, so nothing imported by other tests counts."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from neurons.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print("torch loaded:", "torch" in sys.modules)
"""


@pytest.mark.parametrize("argv", [["transfer", "--help"], ["wallet", "show", "--wallet", "//Bob"],
                                  ["subnet", "create", "--help"], ["stake", "list", "--help"]])
def test_commands_without_a_model_do_not_load_torch(argv):
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().endswith("torch loaded: False"), out.stdout + out.stderr
