"""What ``GET /metrics`` answers: the counters and histograms of ``monitoring`` (every worker's,
in multiprocess mode) and the gauges read at the scrape, registered by name with
``register_gauge`` (the server's index lag here; the job queue's depth)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from flask import Flask
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .. import monitoring
from .checks import read_index_lag

log = logging.getLogger(__name__)

GAUGES = "recap.gauges"  # app.extensions entry: name -> Gauge
# A gauge's reading: one value, or (label values, value) pairs when it has labels.
Reading = float | Iterable[tuple[tuple[str, ...], float]]


class Gauge:
    """A value read when Prometheus scrapes (``read()``), so no worker keeps a stale copy."""

    def __init__(self, name: str, documentation: str, read: Callable[[], Reading],
                 labels: tuple[str, ...] = ()) -> None:
        self.name, self.documentation, self.read, self.labels = name, documentation, read, labels

    def family(self) -> GaugeMetricFamily:
        reading = self.read()
        if not self.labels:
            return GaugeMetricFamily(self.name, self.documentation, value=float(reading))  # type: ignore[arg-type]
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, value in reading:  # type: ignore[union-attr]
            family.add_metric(list(values), float(value))
        return family


class Gauges(Collector):
    """An app's registered gauges; one that fails to read is left out of the scrape (logged)."""

    def __init__(self, gauges: Iterable[Gauge]) -> None:
        self.gauges = list(gauges)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for gauge in self.gauges:
            try:
                yield gauge.family()
            except Exception as exc:  # a database that is down: /readyz says so
                log.warning("metrics: gauge %s could not be read: %s", gauge.name, exc)


def register_gauge(app: Flask, name: str, documentation: str, read: Callable[[], Reading],
                   labels: tuple[str, ...] = ()) -> None:
    """Have ``GET /metrics`` read ``read()`` at each scrape as the gauge ``name``: a number, or
    with ``labels``, pairs of (label values, number)."""
    app.extensions.setdefault(GAUGES, {})[name] = Gauge(name, documentation, read, labels)


def exposition(app: Flask) -> bytes:
    """The Prometheus text format of everything this server measures."""
    registry = monitoring.registry()
    registry.register(Gauges(app.extensions.get(GAUGES, {}).values()))
    return generate_latest(registry)


def init_app(app: Flask) -> None:
    register_gauge(app, "recap_index_lag_events", "Events stored but not yet in the key tables (0 on PostgreSQL, "
                   "which indexes each row as it is written).", lambda: read_index_lag()[0])
    register_gauge(app, "recap_index_lag_seconds", "Age of the oldest event not yet in the key tables.",
                   lambda: read_index_lag()[1])
