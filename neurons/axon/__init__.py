"""The miner's gRPC server: routes per synapse, checks cheapest first, a stake-ordered queue."""
from .config import AxonConfig
from .routes import Call, Caller, CallerInfo, Reject, Reply
from .server import Axon

__all__ = ["Axon", "AxonConfig", "Call", "Caller", "CallerInfo", "Reject", "Reply"]
