"""Prometheus metrics of one app (its own registry, so several apps can share a process)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

#: Content type of the Prometheus text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 20000)


class Metrics:
    """The service's counters, gauges and histograms.

    Examples
    --------
    >>> m = Metrics()
    >>> m.observe_request("/v1/predict", "POST", 200, 0.002)
    >>> b'logitkit_http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "logitkit_http_requests",
            "HTTP requests answered.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "logitkit_http_request_duration_seconds",
            "Time from request to answer.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("logitkit_http_in_flight", "Requests being served.", registry=r)
        self.pending_rows = Gauge(
            "logitkit_log_pending_rows", "Log rows waiting for their commit.", registry=r
        )
        self.rejected = Counter(
            "logitkit_http_rejected", "Requests refused early.", ["reason"], registry=r
        )
        self.predictions = Counter(
            "logitkit_predictions", "Instances predicted (and logged).", ["decision"], registry=r
        )
        self.commit_seconds = Histogram(
            "logitkit_log_commit_duration_seconds",
            "Duration of one group commit of the prediction log.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_rows = Histogram(
            "logitkit_log_commit_rows", "Rows per group commit.", buckets=_SIZE_BUCKETS, registry=r
        )
        self.commit_failures = Counter(
            "logitkit_log_commit_failures", "Group commits that failed.", registry=r
        )
        self.model_info = Gauge(
            "logitkit_model_info",
            "The model being served (value 1).",
            ["name", "version"],
            registry=r,
        )
        self.reloads = Counter("logitkit_model_reloads", "Model reloads.", ["outcome"], registry=r)
        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self._decision_children: dict[str, Counter] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (route, method, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(route, method, str(status))
        counter.inc()
        hist = self._latency_children.get(route)
        if hist is None:
            hist = self._latency_children[route] = self.latency.labels(route)
        hist.observe(seconds)

    def count_decisions(self, counts: Mapping[str, int]) -> None:
        """Count predicted instances by decision."""
        for decision, n in counts.items():
            child = self._decision_children.get(decision)
            if child is None:
                child = self._decision_children[decision] = self.predictions.labels(decision)
            child.inc(n)

    def observe_commit(self, seconds: float, rows: int, ok: bool) -> None:
        """Record one group commit (called from the writer thread)."""
        if ok:
            self.commit_seconds.observe(seconds)
            self.commit_rows.observe(rows)
        else:
            self.commit_failures.inc()

    def set_model(self, name: str, version: str) -> None:
        """Show ``version`` as the one served."""
        self.model_info.clear()
        self.model_info.labels(name, version).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
