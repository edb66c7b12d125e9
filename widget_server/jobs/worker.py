"""Consuming the queue: ``recap worker`` (huey's consumer, N forked processes) and the embedded
consumer thread that ``recap run`` starts on the default SQLite queue.

Stopping: SIGTERM (and Ctrl-C) stop ``recap worker`` gracefully. huey's default treats SIGTERM as
"stop now" and drops the jobs it interrupts, so the consumer is made to take SIGTERM as its
graceful signal: no new job starts, running ones get ``WORKER_STOP_TIMEOUT`` seconds to finish,
and those still running then are interrupted and put back on the queue (records.py). A worker
killed outright (SIGKILL, a lost machine) puts nothing back: its build chunk's claim runs out and
the chunk is enqueued again (builds.py); other jobs are safe to lose that way (a share image is
drawn on first view anyway, a chore runs again next period).
"""
from __future__ import annotations

import atexit
import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from huey.consumer import Consumer

from ..store.db import database
from .queue import queue_of

log = logging.getLogger(__name__)

POLL_MAX_S = 1.0  # an idle worker looks at an empty SQLite queue at least this often


def _consumer_options(app: Flask) -> dict[str, float | str]:
    return {"initial_delay": 0.05, "max_delay": POLL_MAX_S, "graceful_signal": "TERM",
            "shutdown_timeout": float(app.config["WORKER_STOP_TIMEOUT"])}


def _close_connections() -> None:
    """Forked workers must not share the parent's database connections."""
    if not database.is_closed():
        database.close()
    close_all = getattr(database.obj, "close_all", None)
    if close_all is not None:
        close_all()


@click.command("worker")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes running jobs side by side (one per core).")
@click.option("--no-periodic", is_flag=True,
              help="Do not schedule the periodic chores here (when another worker does).")
@with_appcontext
def worker_command(workers: int, no_periodic: bool) -> None:
    """Run jobs from the queue until SIGTERM or Ctrl-C (running jobs finish, or go back on the queue)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    queue = queue_of(app)
    consumer = queue.huey.create_consumer(workers=workers, worker_type="process", periodic=not no_periodic,
                                          **_consumer_options(app))
    click.echo(f"recap worker: {workers} process{'es' if workers > 1 else ''} on the {queue.backend} queue"
               f"{'' if no_periodic else ', with the periodic chores'}", err=True)
    _close_connections()
    consumer.run()


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer as threads beside a server: the server keeps its own signal handlers."""

    def _set_signal_handlers(self) -> None:
        pass


def start_embedded(app: Flask) -> EmbeddedConsumer | None:
    """Consume the app's queue in a thread of this process (the SQLite queue only: with Redis,
    ``recap worker`` processes do it); stopped gracefully when the process exits."""
    queue = queue_of(app)
    if not queue.embedded:
        return None
    consumer = EmbeddedConsumer(queue.huey, workers=1, worker_type="thread", periodic=True, **_consumer_options(app))
    consumer.start()

    def stop() -> None:
        consumer.stop(graceful=True)
        queue.huey.notify_interrupted_tasks()  # those still running go back on the queue

    atexit.register(stop)
    log.info("consuming the job queue in this process (recap run --no-worker to leave it to recap worker)")
    return consumer
