"""Process settings for a neuron about to serve: keep the garbage collector and the GIL out of the way.

Before a neuron serves it has imported torch, transformers and substrate-interface and built its
model: a few hundred thousand objects that live as long as the process. Every full (generation 2)
collection walks all of them, about 100 ms on a small machine, and every request in flight waits
that long. Freezing them (gc.freeze) moves them to a permanent generation the collector skips;
what is allocated while serving is collected as before.

A miner's handlers run the model in threads while the event loop reads, checks and answers
requests; with Python's default 5 ms GIL switch interval a request can wait that long for the
loop thread to get the GIL back. 1 ms trades a little model throughput for that latency.

Tensors of a MiB or more pass through every request. glibc serves each such buffer with a fresh
mmap and unmaps it when freed, so every copy into one also pays a page fault per 4 KiB and the
kernel's zeroing. `tune_allocator` serves buffers up to 32 MiB from the heap and keeps up to
128 MiB of freed heap for reuse. At 32 axons x 1 MiB this cut page faults from about 165 to 10
per request and the CPU per request by about a fifth (bench/RESULTS.md, fan-out notes).
"""
from __future__ import annotations

import ctypes
import gc
import logging
import sys

log = logging.getLogger("opensubnet.runtime")

SWITCH_INTERVAL_S = 0.001
MMAP_THRESHOLD = 32 << 20    # buffers below this come from the heap, not a fresh mmap each
TRIM_THRESHOLD = 128 << 20   # freed heap kept for reuse before any is given back to the system
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def freeze_startup_heap() -> int:
    """Collect once, then freeze every object alive now; returns how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def tune_allocator(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Large buffers from a reused heap (glibc's mallopt); False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1


def prepare_to_serve(switch_interval_s: float = SWITCH_INTERVAL_S) -> None:
    """Call once, after start-up work (imports, model, state) and before serving."""
    frozen = freeze_startup_heap()
    sys.setswitchinterval(switch_interval_s)
    tuned = tune_allocator()
    log.debug("froze %d start-up objects; GIL switch interval %.1f ms; allocator %s", frozen,
              switch_interval_s * 1e3, "tuned" if tuned else "left as is")
