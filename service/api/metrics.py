"""Prometheus metrics of one app, in a registry of its own (two apps in one process never share counters).

With ``--workers N`` each worker process keeps its own counters and ``/metrics`` answers for the worker that
served the scrape; run one worker per container and let Prometheus sum across them for exact totals.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.model import PackInfo, ScreeningResult

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and histograms the API updates; ``render()`` is the /metrics body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("screening_http_requests", "HTTP requests answered, by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.request_seconds = Histogram("screening_http_request_duration_seconds",
                                         "Time to answer an HTTP request, by route and status",
                                         ["method", "route", "status"], buckets=_LATENCY_BUCKETS,
                                         registry=self.registry)
        self.decisions = Counter("screening_decisions", "Screening decisions, by decision",
                                 ["decision"], registry=self.registry)
        self.flags = Counter("screening_flags", "Flags raised, by rule and severity", ["rule", "severity"],
                             registry=self.registry)
        self.pack_info = Gauge("screening_pack_info", "The pack serving screenings (value 1)",
                               ["name", "version", "digest"], registry=self.registry)
        self.pack_loaded_at = Gauge("screening_pack_loaded_timestamp_seconds",
                                    "When the serving pack was loaded (Unix time)", registry=self.registry)
        self.pack_reloads = Counter("screening_pack_reloads", "Pack reload attempts, by outcome", ["outcome"],
                                    registry=self.registry)
        self.log_batch_rows = Histogram("screening_log_batch_rows", "Screenings written per log commit",
                                        buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
                                        registry=self.registry)
        self.log_commit_seconds = Histogram("screening_log_commit_seconds", "Time to commit one log batch",
                                            buckets=_LATENCY_BUCKETS, registry=self.registry)
        # Looking up labelled children costs more than updating them; routes and statuses are few.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.log_pending_rows = Gauge("screening_log_pending_rows", "Screenings waiting to be written",
                                      registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            labels = (method, route, str(status))
            children = (self.requests.labels(*labels), self.request_seconds.labels(*labels))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_result(self, result: ScreeningResult) -> None:
        self.decisions.labels(result.decision.value).inc()
        for flag in result.flags:
            self.flags.labels(flag.rule, flag.severity.value).inc()

    def observe_log_batch(self, rows: int, seconds: float) -> None:
        self.log_batch_rows.observe(rows)
        self.log_commit_seconds.observe(seconds)

    def watch_pending_rows(self, pending: Callable[[], int]) -> None:
        self.log_pending_rows.set_function(lambda: float(pending()))

    def set_pack(self, info: PackInfo, loaded_at_timestamp: float) -> None:
        self.pack_info.clear()
        self.pack_info.labels(info.name, info.version, info.digest).set(1)
        self.pack_loaded_at.set(loaded_at_timestamp)

    def render(self) -> bytes:
        return generate_latest(self.registry)
