"""The server's Prometheus metrics: defined once here, recorded where things happen, exposed by
``ops`` (``GET /metrics``). Imports only ``prometheus_client``, so any layer may record here.

Counters and histograms live in each process. Under several gunicorn workers they are summed
across them through prometheus_client's multiprocess mode: it is on when
``PROMETHEUS_MULTIPROC_DIR`` is set before this module is imported, which
``deploy/gunicorn.conf.py`` does in gunicorn's master (docs/OPERATIONS.md). Values that are read
rather than counted (index lag, queue depth) are gauges computed at each scrape
(``ops.register_gauge``), so no process keeps a copy that could go stale.

Every label takes a value from a short fixed list (a route's URL rule, never its path), so
nothing personal reaches the metrics and their number stays bounded.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# What this module defines; a scrape in one process registers them (multiprocess mode reads the
# files of every process instead).
_OWN: list[Counter | Histogram] = []
M = TypeVar("M", Counter, Histogram)


def _own(metric: M) -> M:
    _OWN.append(metric)
    return metric


# A request's latency, from the first hook to the answer (latency buckets of a web service).
REQUEST_SECONDS = _own(Histogram(
    "recap_http_request_duration_seconds", "Time to answer a request, by route (URL rule) and method.",
    ("route", "method"), registry=None,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)))
REQUESTS = _own(Counter(
    "recap_http_requests", "Requests answered, by route (URL rule), method and status.",
    ("route", "method", "status"), registry=None))

INGEST_EVENTS = _own(Counter(
    "recap_ingest_events", "Events ingest acknowledged: accepted (the answer's accepted), of them stored "
    "(new rows) and duplicate (a messageId already stored).", ("outcome",), registry=None))
INGEST_REJECTED = _own(Counter(
    "recap_ingest_events_rejected", "Events ingest refused, by the code of their entry in the answer's "
    "rejected list (invalid, too_large, forbidden).", ("reason",), registry=None))
# Kept bound: ingest records on every request.
_ACCEPTED, _STORED, _DUPLICATE = (INGEST_EVENTS.labels(o) for o in ("accepted", "stored", "duplicate"))

STORY_SECONDS = _own(Histogram(
    "recap_story_assembly_seconds", "Time to assemble stories in one call of the engine, by source: "
    "on_demand (one user) or precomputed (a chunk of users in a build).", ("source",), registry=None,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)))
CARD_SECONDS = _own(Histogram(
    "recap_card_render_seconds", "Time to load a share and draw and encode one of its images, by kind "
    "(story, og, qr).",
    ("kind",), registry=None, buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56)))

# Recorded by the job queue's workers (widget_server/jobs/): one per job that ends, by its name and
# outcome (complete, retried, failed, interrupted). Visible in a web server's /metrics when the workers share
# its PROMETHEUS_MULTIPROC_DIR (one machine); docs/OPERATIONS.md.
JOBS = _own(Counter("recap_jobs", "Jobs that ended, by job name and outcome.", ("job", "outcome"),
                    registry=None))


def ingested(accepted: int = 0, stored: int = 0, duplicates: int = 0, rejected: Iterable[str] = ()) -> None:
    """Count one ingest answer: its accepted, stored and duplicate events and each rejected
    event's code."""
    if accepted:
        _ACCEPTED.inc(accepted)
    if stored:
        _STORED.inc(stored)
    if duplicates:
        _DUPLICATE.inc(duplicates)
    for reason in rejected:
        INGEST_REJECTED.labels(reason).inc()


def job_ended(job: str, outcome: str) -> None:
    """Count a job that ended (the queue's workers call it)."""
    JOBS.labels(job, outcome).inc()


def multiprocess() -> bool:
    """Whether the processes of this server count together (``PROMETHEUS_MULTIPROC_DIR``)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def registry() -> CollectorRegistry:
    """A registry holding this server's counters and histograms: every process's (multiprocess
    mode) or this one's. A new one per scrape, so scrape-time gauges can be added to it."""
    found = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(found)  # type: ignore[no-untyped-call]
    else:
        for metric in _OWN:
            found.register(metric)
    return found
