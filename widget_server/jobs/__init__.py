"""Background work on a job queue (huey): story builds in chunks, share image renders, chores.

Work that is not the answer to a request runs here, in ``recap worker`` processes (or, on the
default SQLite queue, in a thread of ``recap run``), retried with backoff when it fails and then
kept, with its reason, for ``recap jobs``. docs/JOBS.md tells the whole of it.

    queue.py     the app's huey (SQLite in the instance folder, or Redis), ``@job``, enqueue, queue_status
    records.py   the ``job`` rows of running, retrying and failed jobs; retry
    builds.py    a story build as chunks of users, each done once; stalled chunks enqueued again
    chores.py    the periodic chores: population refresh, expired grants and ended shares swept
    renders.py   a new share's images drawn before anyone asks for them
    videos.py    a share's video drawn and encoded
    triggers.py  an event's fan-out in chunks of users, a user's milestone, each webhook delivery
    worker.py    ``recap worker`` and the consumer thread of ``recap run``
    cli.py       ``recap jobs``
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from flask import Flask

from .. import ops
from ..store.db import database
from .cli import jobs
from .queue import enqueue, queue_status
from .records import counts as job_counts
from .worker import worker_command

__all__ = ["enqueue", "init_app", "job_counts", "queue_status"]


def init_app(app: Flask) -> None:
    # The modules that declare jobs, imported here rather than above: they import the features
    # whose work they run, and those features enqueue through .queue.
    from . import audiences, builds, chores, predictions, renders, triggers, videos  # noqa: F401

    app.cli.add_command(jobs)
    app.cli.add_command(worker_command)
    ops.register_check(app, "queue", lambda: _queue_ready(app))
    ops.register_gauge(app, "recap_queue_depth", "Jobs waiting on the queue (NaN while it does not answer).",
                       lambda: _depth(app))
    ops.register_gauge(app, "recap_jobs_now", "Jobs running, waiting for a retry, and failed for good "
                       "(recap jobs), from every worker.", _jobs_now, labels=("status",))


log = logging.getLogger(__name__)


def _queue_ready(app: Flask) -> dict[str, object]:
    status = queue_status(app)
    if not status["reachable"]:
        # The error's text may name the queue's address: it goes to the log, not the answer.
        log.warning("readiness: the %s queue does not answer: %s", status["backend"], status["error"])
        raise ops.NotReady(f"the {status['backend']} queue does not answer", backend=status["backend"])
    return {"backend": status["backend"], "depth": status["depth"]}


def _depth(app: Flask) -> float:
    depth = queue_status(app)["depth"]
    return math.nan if depth is None else float(depth)


def _jobs_now() -> Iterable[tuple[tuple[str, ...], float]]:
    try:
        with database.connection_context():
            found = job_counts()
    except Exception:  # a store that does not answer shows in /readyz; the scrape goes on
        log.warning("metrics: the job counts could not be read", exc_info=True)
        return []
    return [((status,), float(n)) for status, n in found.items()]
