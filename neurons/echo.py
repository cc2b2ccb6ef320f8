"""The built-in echo synapse: answers with the request's own tensors and fields.

A real, minimal subnet task for tests, benchmarks and smoke-checking a deployment
(`axon.attach(echo.SYNAPSE, echo.forward)`).
"""
from __future__ import annotations

from neurons.axon.routes import Call, Reply

SYNAPSE = "echo"


async def forward(call: Call) -> Reply:
    return Reply(call.tensors, call.fields)
