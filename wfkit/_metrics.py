"""Prometheus metrics with luno's names, types and labels, on a registry the user chooses.

Hot paths only bump plain Python numbers in a `ProcessStats`; a collector turns them into
Prometheus families when the registry is scraped. That keeps per-event cost to a few attribute
updates instead of prometheus-client's locked label lookups.
"""

from __future__ import annotations

import bisect
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # prometheus_client is imported when a workflow is built, not by `import wfkit`
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

LATENCY_BUCKETS = (0.01, 0.1, 1.0, 5.0, 10.0, 60.0, 300.0)


class ProcessStats:
    """What one process of one workflow has done, as plain numbers."""

    __slots__ = ("buckets", "errors", "lag", "lag_alert", "latency_count", "latency_sum", "skipped", "state")

    def __init__(self) -> None:
        self.lag = 0.0
        self.lag_alert: int | None = None
        self.state = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.errors = 0
        self.skipped: dict[str, int] = {}

    def observe(self, seconds: float) -> None:
        """Record the time one event took to handle."""
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds
        self.latency_count += 1

    def skip(self, reason: str) -> None:
        """Count an event consumed without a transition, by luno's reason strings."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class Metrics:
    """The seven luno metrics of every workflow on one registry (a prometheus-client collector)."""

    def __init__(self) -> None:
        self._processes: dict[tuple[str, str], ProcessStats] = {}
        self._run_state_changes: dict[tuple[str, str, str], int] = {}

    def process(self, workflow: str, process: str) -> ProcessStats:
        key = (workflow, process)
        stats = self._processes.get(key)
        if stats is None:
            stats = self._processes[key] = ProcessStats()
        return stats

    def run_state_change(self, workflow: str, previous: str, current: str) -> None:
        key = (workflow, previous, current)
        self._run_state_changes[key] = self._run_state_changes.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        labels = ["workflow_name", "process_name"]
        lag = GaugeMetricFamily(
            "workflow_process_lag_seconds", "Lag of the last consumed event", labels=labels
        )
        alert = GaugeMetricFamily(
            "workflow_process_lag_alert", "1 when lag exceeds the lag alert", labels=labels
        )
        states = GaugeMetricFamily(
            "workflow_process_states",
            "Process state (0 unknown, 1 shutdown, 2 running, 3 idle)",
            labels=labels,
        )
        latency = HistogramMetricFamily(
            "workflow_process_latency_seconds", "Time to handle one event", labels=labels
        )
        errors = CounterMetricFamily(
            "workflow_process_error_count", "Failed process iterations", labels=labels
        )
        skipped = CounterMetricFamily(
            "workflow_process_skipped_events_count",
            "Events consumed without a transition",
            labels=[*labels, "reason"],
        )
        for (workflow, process), s in self._processes.items():
            key = [workflow, process]
            lag.add_metric(key, s.lag)
            if s.lag_alert is not None:
                alert.add_metric(key, s.lag_alert)
            states.add_metric(key, s.state)
            cumulative, total = [], 0
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), s.buckets, strict=True):
                total += n
                cumulative.append((_bound(bound), total))
            latency.add_metric(key, cumulative, s.latency_sum)
            if s.errors:
                errors.add_metric(key, s.errors)
            for reason, n in s.skipped.items():
                skipped.add_metric([*key, reason], n)
        changes = CounterMetricFamily(
            "workflow_run_state_changes",
            "Run state changes",
            labels=["workflow_name", "previous_run_state", "current_run_state"],
        )
        for key3, n in self._run_state_changes.items():
            changes.add_metric(list(key3), n)
        yield from (lag, alert, states, latency, errors, skipped, changes)


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()


def metrics_for(registry: CollectorRegistry | None) -> Metrics:
    """The shared `Metrics` of a registry (the default Prometheus registry when None)."""
    from prometheus_client import REGISTRY

    reg = REGISTRY if registry is None else registry
    found = _BY_REGISTRY.get(reg)
    if found is None:
        found = _BY_REGISTRY[reg] = Metrics()
        reg.register(found)
    return found
