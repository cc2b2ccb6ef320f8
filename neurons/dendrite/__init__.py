"""The validator's client: signed, concurrent fan-out to many axons with typed results."""
from .client import Dendrite
from .result import Endpoint, Result

__all__ = ["Dendrite", "Endpoint", "Result"]
