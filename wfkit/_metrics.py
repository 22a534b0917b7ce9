"""Prometheus metrics with luno's names, types and labels, on a registry the user chooses."""

from __future__ import annotations

import weakref
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.1, 1, 5, 10, 60, 300)


class Metrics:
    """The seven luno metrics, created once per registry and shared by every workflow on it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("workflow_name", "process_name")
        self.lag = Gauge(
            "workflow_process_lag_seconds", "Lag of the last consumed event", labels, registry=registry
        )
        self.lag_alert = Gauge(
            "workflow_process_lag_alert", "1 when lag exceeds the lag alert", labels, registry=registry
        )
        self.states = Gauge(
            "workflow_process_states",
            "Process state (0 unknown, 1 shutdown, 2 running, 3 idle)",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "workflow_process_latency_seconds",
            "Time to handle one event",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "workflow_process_error_count", "Failed process iterations", labels, registry=registry
        )
        self.skipped = Counter(
            "workflow_process_skipped_events_count",
            "Events consumed without a transition",
            (*labels, "reason"),
            registry=registry,
        )
        self.run_state_changes = Counter(
            "workflow_run_state_changes",
            "Run state changes",
            ("workflow_name", "previous_run_state", "current_run_state"),
            registry=registry,
        )


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry | None) -> Metrics:
    """The shared `Metrics` of a registry (the default Prometheus registry when None)."""
    reg = REGISTRY if registry is None else registry
    found = _BY_REGISTRY.get(reg)
    if found is None:
        found = _BY_REGISTRY[reg] = Metrics(reg)
    return found


class ProcessMetrics:
    """A process's labelled children, looked up once (label lookup is the slow part)."""

    __slots__ = (
        "_skipped",
        "_workflow",
        "errors",
        "lag",
        "lag_alert",
        "latency",
        "metrics",
        "process",
        "state",
    )

    def __init__(self, metrics: Metrics, workflow: str, process: str) -> None:
        self.metrics = metrics
        self._workflow = workflow
        self.process = process
        self.lag = metrics.lag.labels(workflow, process)
        self.lag_alert = metrics.lag_alert.labels(workflow, process)
        self.state = metrics.states.labels(workflow, process)
        self.latency = metrics.latency.labels(workflow, process)
        self.errors = metrics.errors.labels(workflow, process)
        self._skipped: dict[str, Any] = {}

    def skip(self, reason: str) -> None:
        child = self._skipped.get(reason)
        if child is None:
            child = self._skipped[reason] = self.metrics.skipped.labels(self._workflow, self.process, reason)
        child.inc()
