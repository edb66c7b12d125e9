"""Background work on a job queue (huey): story builds in chunks, share image renders, chores.

Work that is not the answer to a request runs here, in ``recap worker`` processes (or, on the
default SQLite queue, in a thread of ``recap run``), retried with backoff when it fails and then
kept, with its reason, for ``recap jobs``. docs/JOBS.md tells the whole of it.

    queue.py     the app's huey (SQLite in the instance folder, or Redis), ``@job``, enqueue, queue_status
    records.py   the ``job`` rows of running, retrying and failed jobs; retry
    builds.py    a story build as chunks of users, each done once; stalled chunks enqueued again
    chores.py    the periodic chores: population refresh, expired grants and ended shares swept
    renders.py   a new share's images drawn before anyone asks for them
    worker.py    ``recap worker`` and the consumer thread of ``recap run``
    cli.py       ``recap jobs``
"""
from __future__ import annotations

from flask import Flask

from .cli import jobs
from .queue import enqueue, queue_status
from .records import counts as job_counts
from .worker import worker_command

__all__ = ["enqueue", "init_app", "job_counts", "queue_status"]


def init_app(app: Flask) -> None:
    # The modules that declare jobs, imported here rather than above: they import the features
    # whose work they run, and those features enqueue through .queue.
    from . import builds, chores, renders  # noqa: F401

    app.cli.add_command(jobs)
    app.cli.add_command(worker_command)
