"""What ``recap jobs`` lists beside the queue itself: jobs running, waiting for a retry, or failed.

huey keeps what waits (its queue and its schedule) but not what runs or what failed for good, and
its result store is a key-value map with nothing to list or retry. So each queue's signals keep a
``job`` row in our own database (store/models.py, ``JobRecord``), where every worker on every
machine writes the same list: written when a job starts, updated when it fails (``retrying``
while huey's backoff runs, ``failed`` with the reason once its retries are spent), deleted when
it completes. A job interrupted by a worker's shutdown is put back on the queue.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from typing import Any

from flask import Flask
from huey import signals
from huey.api import Huey, PeriodicTask, Task
from peewee import fn

from .. import monitoring
from ..store.db import database
from ..store.models import JobRecord, now_ms

log = logging.getLogger(__name__)

REASON_CHARS = 2000
CHORE_PREFIX = "chore:"


def record_id(task: Task) -> str:
    """A periodic chore has one record by name (each run is a new task); other jobs, their id."""
    return f"{CHORE_PREFIX}{task.name}" if isinstance(task, PeriodicTask) else task.id


def reason_of(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"[:REASON_CHARS]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def connect(huey: Huey, app: Flask) -> None:
    """Keep the records of ``huey``'s jobs from its signals (in whichever process runs them)."""

    def write(task: Task, status: str, reason: str | None = None, *, started: bool = False) -> None:
        with app.app_context(), database.connection_context():
            values: dict[str, Any] = {"name": task.name, "args": json.dumps(list(task.args)), "status": status,
                                      "reason": reason, "worker": worker_name(), "updated_at": now_ms()}
            update = dict(values)
            if started:
                update["attempts"] = JobRecord.attempts + 1
            (JobRecord.insert(id=record_id(task), attempts=1, **values)
             .on_conflict(conflict_target=[JobRecord.id], update=update).execute())

    def drop(task: Task) -> None:
        with app.app_context(), database.connection_context():
            JobRecord.delete().where(JobRecord.id == record_id(task)).execute()

    @huey.signal(signals.SIGNAL_EXECUTING)  # type: ignore[untyped-decorator]
    def executing(signal: str, task: Task) -> None:
        write(task, "running", started=True)

    @huey.signal(signals.SIGNAL_COMPLETE)  # type: ignore[untyped-decorator]
    def complete(signal: str, task: Task) -> None:
        monitoring.job_ended(task.name, "complete")
        drop(task)

    @huey.signal(signals.SIGNAL_ERROR, signals.SIGNAL_TIMEOUT)  # type: ignore[untyped-decorator]
    def failed(signal: str, task: Task, exc: BaseException | None = None) -> None:
        reason = reason_of(exc) if exc is not None else f"timed out after {task.timeout} s"
        final = not task.retries  # huey counts the retry down after this signal
        if final:
            log.error("job %s %s failed for good: %s (recap jobs retry %s)", task.name, task.id, reason,
                      record_id(task))
        monitoring.job_ended(task.name, "failed" if final else "retried")
        write(task, "failed" if final else "retrying", reason)

    @huey.signal(signals.SIGNAL_INTERRUPTED)  # type: ignore[untyped-decorator]
    def interrupted(signal: str, task: Task) -> None:
        # A worker stopping (SIGTERM past WORKER_STOP_TIMEOUT) interrupts the job it holds; huey
        # itself would drop it. Every job may run twice, so it goes back on the queue as it was.
        log.warning("job %s %s interrupted by the worker's shutdown: enqueued again", task.name, task.id)
        monitoring.job_ended(task.name, "interrupted")
        huey.enqueue(task)
        drop(task)


def worker_name() -> str:
    """host:pid of this process: huey's process workers are forks of the consumer, each its own."""
    return f"{socket.gethostname()}:{os.getpid()}"


def listed(limit: int = 50) -> list[JobRecord]:
    """Failed jobs first, then those waiting for a retry, then the running ones; newest first."""
    order = {"failed": 0, "retrying": 1, "running": 2}
    rows = list(JobRecord.select().order_by(JobRecord.updated_at.desc()).limit(limit))
    return sorted(rows, key=lambda row: order.get(row.status, 3))


def counts() -> dict[str, int]:
    """How many jobs run, wait for a retry and failed for good, now (for /metrics)."""
    found = dict(JobRecord.select(JobRecord.status, fn.COUNT(JobRecord.id)).group_by(JobRecord.status)
                 .tuples().execute())
    return {status: int(found.get(status, 0)) for status in ("running", "retrying", "failed")}


def failed(job_id: str) -> JobRecord | None:
    """The record of the failed job ``job_id``, if there is one."""
    return JobRecord.get_or_none((JobRecord.id == job_id) & (JobRecord.status == "failed"))


def forget(job_id: str) -> None:
    JobRecord.delete().where(JobRecord.id == job_id).execute()
