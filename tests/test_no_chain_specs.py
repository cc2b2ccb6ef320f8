"""Chain specs (another project's compiled runtime) are never committed: no tracked file may carry a
runtime blob (a long hex run, e.g. the wasm under the ':code' key) or the ':code' key itself."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEX_RUN = re.compile(rb"(?:0x)?[0-9a-fA-F]{4096,}")
CODE_KEY = ("0x" + b":code".hex()).encode()


def test_no_tracked_file_carries_a_runtime_blob():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    found = []
    for name in filter(None, files):
        path = ROOT / name.decode()
        if not path.is_file():
            continue
        data = path.read_bytes()
        if CODE_KEY in data.lower() or HEX_RUN.search(data):
            found.append(name.decode())
    assert not found, f"runtime code or a chain spec in tracked files: {found}; keep specs in ~/.cache/opensubnet/chainspecs"
