"""The miner's gRPC server: routes per synapse, checks cheapest first, a stake-ordered queue.
Its settings are the `[axon]` section of the config (neurons.config.schema.AxonSection)."""
from .routes import Call, Caller, CallerInfo, Reject, Reply
from .server import Axon

__all__ = ["Axon", "Call", "Caller", "CallerInfo", "Reject", "Reply"]
