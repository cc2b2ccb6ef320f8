"""Prometheus metrics of one axon, in its own registry (several axons can share a process)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from neurons.metrics_server import ServedMetrics

UNKNOWN_SYNAPSE = "<unknown>"   # label for names nobody attached: callers cannot grow label sets

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class AxonMetrics(ServedMetrics):
    what = "axon metrics"

    def __init__(self):
        super().__init__()
        self.requests = Counter(
            "axon_requests", "Requests answered, by synapse and return code",
            ("synapse", "code"), registry=self.registry)
        self.latency = Histogram(
            "axon_request_seconds", "Time from arrival to answer, by synapse and return code",
            ("synapse", "code"), buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("axon_queue_depth", "Requests waiting in the priority queue",
                                 registry=self.registry)
        self.active = Gauge("axon_active_handlers", "Handler slots in use", registry=self.registry)
        self.held = Gauge("axon_held_refusals", "Refusals held back from connections past their allowance",
                          registry=self.registry)
        self._children: dict[tuple[str, str], tuple] = {}  # bounded: attached synapses (+ unknown) x codes

    def observe(self, synapse: str, code_name: str, seconds: float) -> None:
        pair = self._children.get((synapse, code_name))
        if pair is None:  # labels() takes a lock and builds a key each time: look each pair up once
            pair = self._children[synapse, code_name] = (
                self.requests.labels(synapse, code_name), self.latency.labels(synapse, code_name))
        pair[0].inc()
        pair[1].observe(seconds)

    def count(self, synapse: str, code_name: str) -> float:
        """Current value of one request counter (0 when never incremented)."""
        v = self.registry.get_sample_value("axon_requests_total", {"synapse": synapse, "code": code_name})
        return v or 0.0

