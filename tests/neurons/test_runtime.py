"""runtime: the start-up heap leaves the collector's generations (later garbage is still collected); large buffers come from a reused heap."""
import gc
import subprocess
import sys

import pytest

from neurons.runtime import freeze_startup_heap


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_startup_objects_are_frozen_and_new_cycles_still_collected():
    startup = [Node() for _ in range(1000)]
    try:
        frozen = freeze_startup_heap()
        assert frozen >= len(startup)
        tracked = {id(o) for o in gc.get_objects()}
        assert not any(id(n) in tracked for n in startup)  # a full collection no longer walks them
        late = Node()
        assert id(late) in {id(o) for o in gc.get_objects()}
        del late
        assert gc.collect() >= 1  # the new cycle is garbage and still found
    finally:
        gc.unfreeze()


_BURSTS = """
import resource, sys
from neurons.runtime import tune_allocator
if sys.argv[1] == "tuned" and not tune_allocator():
    print("untunable"); sys.exit()
src = bytes(1 << 20)
def burst():  # 32 requests of 1 MiB in flight, then all answered
    held = [bytearray(src) for _ in range(32)]
    del held
for _ in range(3):
    burst()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    burst()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 320)
"""


def test_tuned_allocator_reuses_pages_for_bursts_of_large_buffers():
    """Untuned glibc maps and unmaps every MiB buffer of a burst (about 256 page faults per MiB);
    after tune_allocator (prepare_to_serve) the heap keeps them: next to none."""
    def faults_per_mib(mode: str) -> str:
        return subprocess.run([sys.executable, "-c", _BURSTS, mode], capture_output=True, text=True,
                              check=True).stdout.strip()

    tuned = faults_per_mib("tuned")
    if tuned == "untunable":
        pytest.skip("needs glibc's mallopt (Linux with glibc)")
    assert float(faults_per_mib("default")) > 64  # the cost being removed is real here
    assert float(tuned) < 4
