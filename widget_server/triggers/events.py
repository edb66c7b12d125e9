"""Events that start triggers: noticed as ingest commits them, acted on from the job queue.

Ingest calls ``notice`` after each request's write (ingest.routes.on_stored). It costs one
indexed read per request (store.starting: the names that start the app's triggers, built again
when a trigger changes) and a dict lookup per event. An event that starts one is handed to a
thread of this process, which puts it on the queue (``trigger_event``): the request neither
evaluates it nor waits for the queue's write (which, on the SQLite queue, waits for the
workers' own: the release's p99 was 7 times a normal request's; bench/trigger_bench.py). What
the thread has not enqueued yet is lost if the process is killed (a stop waits for it): the
release is stored, and sending it again (the same ``messageId``) fans out only what was not.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import queue
import threading
import time
from typing import Any

import msgspec
from flask import Flask, current_app

from ..engine import filters
from ..ingest.schema import EventIn, is_absent
from ..jobs.queue import enqueue
from ..store.db import database, is_postgres
from . import store

log = logging.getLogger(__name__)


def notice(app_id: int, events: list[EventIn]) -> None:
    """Put on the queue a ``trigger_event`` job for each event that starts an event trigger, and
    a ``trigger_milestone`` job for each user (once per request) whose event may move a milestone."""
    starting = store.starting(app_id)
    if not starting:
        return
    milestones: set[tuple[str, int, str]] = set()
    for event in events:
        name = event.event if event.type == "track" else event.name
        for trigger_id, version, cause in (starting.get(name, []) if name else []) + starting.get(store.ANY_EVENT, []):
            if cause == "event" and name:
                handoff.submit("trigger_event", app_id, trigger_id, version, cause_of(event))
            elif cause == "metric" and event.userId:  # a milestone is an identified user's own
                milestones.add((trigger_id, version, str(event.userId)))
    for trigger_id, version, user_id in sorted(milestones):
        handoff.submit("trigger_milestone", app_id, trigger_id, version, user_id)


class Handoff:
    """Jobs put on the queue by a thread of this process: ``submit`` never blocks and returns False
    when MAX_PENDING wait already (logged: those triggers are not acted on). A forked process
    starts its own thread; at exit what is pending is enqueued (``flush``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._pending: queue.Queue[tuple[Flask, str, tuple[Any, ...]]] = queue.Queue(MAX_PENDING)

    def submit(self, name: str, *args: Any) -> bool:
        self._ensure_thread()
        try:
            self._pending.put_nowait((current_app._get_current_object(), name, args))  # type: ignore[attr-defined]
        except queue.Full:
            log.error("triggers: %d jobs wait to be enqueued; %s%r dropped", MAX_PENDING, name, args[:3])
            return False
        return True

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # first use, or a fork: threads do not cross it
                self._pending = queue.Queue(MAX_PENDING)
                threading.Thread(target=self._run, name="recap-trigger-handoff", daemon=True).start()
                self._pid = os.getpid()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            app, name, args = self._pending.get()
            try:
                with app.app_context():
                    enqueue(name, *args)
            except Exception:  # the queue is down: logged, the next ones are tried
                log.exception("triggers: %s could not be enqueued", name)
            finally:
                self._pending.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` s for what is pending to be enqueued; whether it all was."""
        deadline = time.monotonic() + timeout
        while self._pending.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._pending.unfinished_tasks


MAX_PENDING = 10_000
handoff = Handoff()


def cause_of(event: EventIn) -> dict[str, Any]:
    """What the job reads of the event: its name, type, properties, time, user; and the key that
    makes it one cause: its messageId (ingest stores it once), else its content."""
    properties = {} if is_absent(event.properties) else json.loads(bytes(event.properties)) or {}
    name = event.event if event.type == "track" else event.name
    content = json.dumps([name, properties, event.timestamp], sort_keys=True, separators=(",", ":"))
    key = event.messageId or "content:" + hashlib.sha256(content.encode()).hexdigest()
    return {"key": hashlib.sha256(f"event\0{key}".encode()).hexdigest(), "kind": "event", "event": name,
            "type": event.type, "message_id": event.messageId, "properties": properties,
            "timestamp": event.timestamp, "user_id": event.userId}


def matches(on: dict[str, Any], cause: dict[str, Any]) -> bool:
    """Whether the event matches the trigger's ``on`` (name, type, ``where``), by the engine's own
    filter SQL run over the event's properties, so a condition means what it means in a metric."""
    columns = filters.Columns()
    flt: dict[str, Any] = {k: on[k] for k in ("event", "events", "type", "where") if k in on}
    filters.collect_paths(flt, columns)
    condition, params = filters.to_sql(flt, columns, "s")
    p = database.param
    properties = f"CAST({p} AS jsonb)" if is_postgres() else f"json({p})"
    selected = ", ".join(["e.name AS name", "e.type AS type", *columns.select_list("e.properties")])
    sql = (f"SELECT 1 FROM (SELECT {selected} FROM (SELECT {p} AS name, {p} AS type, {properties} AS properties) e) s "
           f"WHERE {condition}")
    args = [cause["event"], cause["type"], msgspec.json.encode(cause["properties"]).decode(), *params]
    return database.execute_sql(sql, args).fetchone() is not None
