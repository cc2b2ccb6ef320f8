"""Process settings for a neuron about to serve: keep the garbage collector and the GIL out of the way.

Before a neuron serves it has imported torch, transformers and substrate-interface and built its
model: a few hundred thousand objects that live as long as the process. Every full (generation 2)
collection walks all of them, about 100 ms on a small machine, and every request in flight waits
that long. Freezing them (gc.freeze) moves them to a permanent generation the collector skips;
what is allocated while serving is collected as before.

A miner's handlers run the model in threads while the event loop reads, checks and answers
requests; with Python's default 5 ms GIL switch interval a request can wait that long for the
loop thread to get the GIL back. 1 ms trades a little model throughput for that latency.
"""
from __future__ import annotations

import gc
import logging
import sys

log = logging.getLogger("opensubnet.runtime")

SWITCH_INTERVAL_S = 0.001


def freeze_startup_heap() -> int:
    """Collect once, then freeze every object alive now; returns how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def prepare_to_serve(switch_interval_s: float = SWITCH_INTERVAL_S) -> None:
    """Call once, after start-up work (imports, model, state) and before serving."""
    frozen = freeze_startup_heap()
    sys.setswitchinterval(switch_interval_s)
    log.debug("froze %d start-up objects; GIL switch interval %.1f ms", frozen, switch_interval_s * 1e3)
