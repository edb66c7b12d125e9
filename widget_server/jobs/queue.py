"""The queue of one Flask app: huey on SQLite in the instance folder, or on Redis (``QUEUE_URL``).

Jobs are declared once, where their work lives (``@job("name")``, ``@job(periodic=crontab)``),
and registered on each queue when it is opened; every job runs inside the app's context with a
database connection, and its arguments are JSON values, so that ``recap jobs retry`` can enqueue
a failed one again from its record.
"""
from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from huey import PriorityRedisHuey, SqliteHuey, crontab
from huey.api import Huey, Task, TaskWrapper
from huey.utils import normalize_time

from ..store import private_files
from ..store.db import database
from ..store.models import JobRecord
from . import records

log = logging.getLogger(__name__)

QUEUE_FILE = "queue.sqlite3"
NAME = "recap"
EXTENSION = "recap.queue"
# Connecting to Redis or waiting on one answer, at most: within /readyz's default 2 s, and above
# huey's 1 s blocking read, so an idle worker's wait is not mistaken for a lost Redis.
REDIS_TIMEOUT_S = 1.8

__all__ = ["Queue", "crontab", "enqueue", "job", "queue_of", "queue_status", "running_task"]


@dataclass(frozen=True)
class Definition:
    name: str
    func: Callable[..., Any]
    periodic: crontab | None
    priority: int | None = None  # taken before waiting jobs of a lower one (huey's priority)


# The priorities, in one place: jobs of a higher one are taken before waiting jobs of a lower.
# A share's images: the first viewer is often a chat app's link preview with a short timeout, and
# they take a fraction of a second, so they never wait behind seconds of video or a build.
SOMEONE_WAITS = 20
# Notifications leave as their chunk is chosen, not after every chunk of a large fan-out.
DELIVERING = 10
# A trigger's fan-out is a message due now: it goes before the videos and builds that came first
# (a video campaign queues thousands), after the deliveries of chunks already chosen.
ON_TIME = 5

DEFINITIONS: dict[str, Definition] = {}
_running: contextvars.ContextVar[Task | None] = contextvars.ContextVar("recap_running_task", default=None)


def job(name: str, *, periodic: crontab | None = None,
        priority: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare ``func`` as the job ``name`` (run on a schedule when ``periodic`` is a crontab;
    before waiting jobs of a lower ``priority``)."""
    def declare(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in DEFINITIONS and DEFINITIONS[name].func is not func:
            raise ValueError(f"two jobs are named {name!r}")
        DEFINITIONS[name] = Definition(name, func, periodic, priority)
        return func
    return declare


def running_task() -> Task | None:
    """The huey task whose job is running in this context (None outside a job)."""
    return _running.get()


class Queue:
    """One app's huey, with a task registered for every declared job."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.url = app.config.get("QUEUE_URL") or ""
        self.huey = self._open(app)
        self.tasks: dict[str, TaskWrapper] = {}
        for definition in DEFINITIONS.values():
            self._register(definition)
        records.connect(self.huey, app)  # the signals that keep the records of running and failed jobs

    @property
    def backend(self) -> str:
        return "redis" if self.url else "sqlite"

    @property
    def embedded(self) -> bool:
        """Whether the queue is the instance folder's SQLite file (one machine, consumed in-process)."""
        return not self.url

    def _open(self, app: Flask) -> Huey:
        if not self.url:
            path = os.path.join(app.instance_path, QUEUE_FILE)
            private_files.create_file(path)
            return SqliteHuey(NAME, filename=path, results=False, utc=True)
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"RECAP_QUEUE_URL must be a redis:// URL (or unset for the embedded queue), "
                             f"not {self.url.split('://')[0]!r}")
        # The priority flavour (a sorted set, not a list): jobs declared with a priority are taken
        # first, as on SQLite; huey's plain RedisHuey refuses them (NotImplementedError).
        huey = PriorityRedisHuey(NAME, url=self.url, results=False, utc=True)
        # huey builds its pool from the URL alone; bound every wait so a lost Redis is an error.
        huey.storage.pool.connection_kwargs.update(socket_connect_timeout=REDIS_TIMEOUT_S,
                                                   socket_timeout=REDIS_TIMEOUT_S)
        return huey

    def _register(self, definition: Definition) -> None:
        app, func = self.app, definition.func

        def run(*args: Any, task: Task) -> Any:
            token = _running.set(task)
            try:
                with app.app_context(), database.connection_context():
                    return func(*args)
            finally:
                _running.reset(token)

        run.__name__ = definition.name
        config = app.config
        if definition.periodic is not None:  # a missed run is the next period's: no retries
            wrapper = self.huey.periodic_task(definition.periodic, name=definition.name, context=True)(run)
        else:
            wrapper = self.huey.task(name=definition.name, context=True, retries=int(config["JOB_RETRIES"]),
                                     retry_delay=float(config["JOB_RETRY_DELAY"]), retry_backoff=2,
                                     priority=definition.priority)(run)
        self.tasks[definition.name] = wrapper

    def enqueue(self, name: str, *args: Any, task_id: str | None = None, delay: float | None = None) -> str:
        """Put the job ``name(*args)`` on the queue, to run ``delay`` seconds from now if given; its
        task id (``task_id`` to reuse one)."""
        json.dumps(args)  # a job's arguments are JSON values: a record must be able to re-enqueue them
        task = self.tasks[name].s(*args)
        if task_id:
            task.id = task_id
        if delay is not None and delay > 0:
            task.eta = normalize_time(delay=delay, utc=True)
        self.huey.enqueue(task)
        return str(task.id)

    def retry(self, job_id: str) -> JobRecord:
        """Enqueue a failed job again, with its retries renewed; its record goes (the queue holds it).

        Raises LookupError when no failed job has this id, ValueError when its job no longer exists.
        """
        row = records.failed(job_id)
        if row is None:
            raise LookupError(job_id)
        if row.name not in self.tasks:
            raise ValueError(row.name)
        chore = row.id.startswith(records.CHORE_PREFIX)
        self.enqueue(row.name, *json.loads(row.args), task_id=None if chore else row.id)
        records.forget(row.id)
        return row

    def depth(self) -> int:
        """Jobs waiting to run (not those scheduled for a later retry)."""
        return int(self.huey.pending_count())


def queue_of(app: Flask) -> Queue:
    """The app's queue, opened on first use (after every feature has declared its jobs)."""
    queue = app.extensions.get(EXTENSION)
    if queue is None:
        queue = app.extensions[EXTENSION] = Queue(app)
    return queue


def enqueue(name: str, *args: Any, delay: float | None = None, task_id: str | None = None) -> str:
    """Enqueue the job ``name(*args)`` on the current app's queue (``delay`` seconds from now,
    as ``task_id`` if given); its task id."""
    queue = queue_of(current_app._get_current_object())  # type: ignore[attr-defined]
    return queue.enqueue(name, *args, delay=delay, task_id=task_id)


def queue_status(app: Flask | None = None) -> dict[str, Any]:
    """Whether the queue answers, and how many jobs wait: for /readyz and /metrics.

    ``{"backend": "sqlite" | "redis", "reachable": bool, "depth": int | None, "error": str | None}``;
    never raises (an unreachable queue is ``reachable: False`` with the error's text).
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        queue = queue_of(app)
    except Exception as exc:  # a misconfigured URL is an unready queue, not a crash
        return {"backend": "redis" if app.config.get("QUEUE_URL") else "sqlite", "reachable": False,
                "depth": None, "error": f"{type(exc).__name__}: {exc}"}
    try:
        depth = queue.depth()
    except Exception as exc:
        return {"backend": queue.backend, "reachable": False, "depth": None, "error": f"{type(exc).__name__}: {exc}"}
    return {"backend": queue.backend, "reachable": True, "depth": depth, "error": None}
