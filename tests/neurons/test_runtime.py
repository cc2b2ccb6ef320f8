"""runtime.freeze_startup_heap: what is alive at start-up leaves the collector's generations; later garbage is still collected."""
import gc

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
