"""Prometheus metrics of one validator, in its own registry; served on --metrics.port (neurons/metrics_server.py).

Label sets are bounded: `uid` by the subnet's size (labels of uids that left are removed), `code` by
ReturnCode, `reason` by the weight submitter's reasons, `kind` by exception class names.
"""
from __future__ import annotations

from typing import Sequence

from prometheus_client import Counter, Gauge, Histogram

from neurons.metrics_server import ServedMetrics

_STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ValidatorMetrics(ServedMetrics):
    what = "validator metrics"

    def __init__(self):
        super().__init__()
        r = self.registry
        self.steps = Counter("validator_steps", "Steps finished", registry=r)
        self.step_seconds = Histogram("validator_step_seconds", "Time of one step (challenge, query, learn, "
                                      "weights, save)", buckets=_STEP_BUCKETS, registry=r)
        self.score = Gauge("validator_score", "Moving-average score of each uid", ("uid",), registry=r)
        self.weight = Gauge("validator_weight", "Weight this validator gives each uid (sums to 1)", ("uid",), registry=r)
        self.miner_requests = Counter("validator_miner_requests", "Miner answers, by return code", ("code",), registry=r)
        self.miner_latency = Histogram("validator_miner_seconds", "Latency of miner answers, by return code",
                                       ("code",), buckets=_LATENCY_BUCKETS, registry=r)
        self.weights_submitted = Counter("validator_weights_submitted", "Weight submissions that reached the chain "
                                         "(set, or committed)", registry=r)
        self.weights_refused = Counter("validator_weights_refused", "Steps whose weights were not submitted, by "
                                       "reason (the validator's interval, a chain rule checked first, or the chain "
                                       "rejecting them)", ("reason",), registry=r)
        self.last_weights_block = Gauge("validator_last_weights_block", "Block of the last weight submission",
                                        registry=r)
        self.chain_errors = Counter("validator_chain_errors", "Chain calls that failed, by error class", ("kind",),
                                    registry=r)
        self._uids: set[str] = set()

    def observe_step(self, seconds: float, scores: Sequence[float], weights: Sequence[float],
                     answers: Sequence[tuple[str, float]]) -> None:
        """One finished step. scores, weights: [n_uids]; answers: (code name, latency s) per miner asked."""
        self.steps.inc()
        self.step_seconds.observe(seconds)
        uids = {str(u) for u in range(len(scores))}
        for gone in self._uids - uids:
            self.score.remove(gone)
            self.weight.remove(gone)
        self._uids = uids
        for u, (s, w) in enumerate(zip(scores, weights)):
            self.score.labels(str(u)).set(float(s))
            self.weight.labels(str(u)).set(float(w))
        for code, latency in answers:
            self.miner_requests.labels(code).inc()
            self.miner_latency.labels(code).observe(latency)

    def observe_weights(self, submitted: bool, last_block: int, reason: str | None) -> None:
        if submitted:
            self.weights_submitted.inc()
        else:
            self.weights_refused.labels(reason or "rejected").inc()
        if last_block >= 0:
            self.last_weights_block.set(last_block)

    def chain_error(self, error: BaseException) -> None:
        self.chain_errors.labels(type(error).__name__).inc()
