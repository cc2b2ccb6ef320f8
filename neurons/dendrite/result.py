"""What a validator addresses (Endpoint) and gets back per miner (Result)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.codes import ReturnCode


@dataclass(frozen=True)
class Endpoint:
    """A miner's axon: the hotkey that must sign its answers, and where it listens."""
    hotkey: str
    host: str
    port: int
    uid: int | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass
class Result:
    """One miner's answer: SUCCESS with tensors/fields, or the code saying why not."""
    endpoint: Endpoint
    code: ReturnCode
    latency_s: float
    message: str = ""
    tensors: dict[str, Any] = field(default_factory=dict)   # name -> torch.Tensor
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == ReturnCode.SUCCESS

    @property
    def uid(self) -> int | None:
        return self.endpoint.uid

    def __repr__(self) -> str:
        what = ",".join(f"{k}{list(v.shape)}" for k, v in self.tensors.items()) if self.ok else self.message
        return f"Result(uid={self.uid}, {self.code.name}, {self.latency_s * 1e3:.1f} ms, {what})"
