"""Hyperparameters a new subnet gets on a local chain (the dev ledger and the local runtime), so
neurons started with defaults work at once: a short tempo, no weights or serving rate limit, and
registrations back to back; and commit-reveal on, as on today's chain, with a reveal period of one
(short) epoch (a runtime without commit-reveal, spec 148, skips those two). The public network keeps
the runtime's own defaults (chain.types)."""
from __future__ import annotations

LOCAL_TEMPO = 10
#: set on every new subnet of a local chain, after `create_subnet` (tempo included)
LOCAL_SUBNET: dict[str, int] = {
    "tempo": LOCAL_TEMPO, "weights_rate_limit": 0, "serving_rate_limit": 0,
    "max_registrations_per_block": 256, "target_registrations_per_interval": 256,
    "commit_reveal_enabled": True, "commit_reveal_period": 1,
}
#: the part of LOCAL_SUBNET a runtime without commit-reveal cannot set (it keeps direct set_weights)
COMMIT_REVEAL_KEYS = ("commit_reveal_enabled", "commit_reveal_period")
