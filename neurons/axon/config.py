"""Typed settings of one axon (embedded in the miner's config; every field has a safe default)."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator


class AxonConfig(BaseModel):
    model_config = {"extra": "forbid"}

    max_request_bytes: int = Field(16 << 20, ge=1024, description="largest request accepted (header + body)")
    max_response_bytes: int = Field(64 << 20, ge=1024, description="largest answer sent")
    min_stake: float = Field(0.0, ge=0, description="callers with less stake are BLACKLISTED")
    require_validator_permit: bool = Field(False, description="only callers holding a validator permit")
    rate_per_s: float = Field(100.0, gt=0, description="sustained requests/s per caller hotkey")
    burst: float = Field(200.0, ge=1, description="requests one caller may send at once")
    max_inflight_per_caller: int = Field(64, ge=1, description="queued + running requests per hotkey")
    max_inflight_per_stream: int = Field(64, ge=1, description="requests of one gRPC stream served at once; "
                                         "further ones wait unread (HTTP/2 flow control slows their sender)")
    concurrency: int = Field(16, ge=1, description="handlers running at once (also the size of the thread "
                             "pool for synchronous handlers, so waiting work is ordered by the priority queue alone)")
    max_queue: int = Field(256, ge=0, description="requests waiting for a handler; beyond, the lowest stake is shed")
    timeout_s: float = Field(12.0, gt=0, description="longest a request may take (the caller's deadline may be shorter)")
    quick_refusals_per_s: float = Field(5.0, gt=0, description="refusals a source address (IPv4, IPv6 /64) gets "
                                        "answered at once, per second; past this allowance they are held (tarpit.py)")
    quick_refusal_burst: float = Field(20.0, ge=1, description="refusals a source address may get at once before holding")
    refusal_hold_s: float = Field(1.0, ge=0, description="how long a refusal past the allowance is held "
                                  "(x U(0.5, 1), never past the caller's deadline); 0 = never hold")
    max_held_refusals: int = Field(4096, ge=0, description="refusals held at once; beyond, they go out at once")
    max_held_refusal_bytes: int = Field(256 << 20, ge=0, description="request bytes held with them, at most")
    replay_window_s: float = Field(120.0, gt=0, description="how long a nonce is remembered")
    max_nonces: int = Field(200_000, ge=1, description="bound on remembered nonces")
    clock_skew_s: float = Field(30.0, ge=0, description="accepted difference between caller and local clocks")
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    metrics_port: int | None = Field(None, ge=0, le=65535, description="serve Prometheus /metrics here")
    metrics_host: str = "127.0.0.1"
    shutdown_grace_s: float = Field(5.0, ge=0, description="time in-flight requests get to finish on stop")

    @model_validator(mode="after")
    def _tls_pair(self):
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        return self
