"""The subtensor backend: `SubtensorChain(url)` over substrate-interface, for any subtensor node."""
from chain.subtensor.backend import SubtensorChain

__all__ = ["SubtensorChain"]
