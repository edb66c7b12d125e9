"""Events that start triggers: noticed as ingest commits them, acted on from the job queue.

Ingest calls ``notice`` after each request's write (ingest.routes.on_stored). It costs a dict
lookup per event (store.starting: the names that start the app's triggers, read again every few
seconds), and an event that starts one is only put on the queue (``trigger_event``), never
evaluated in the request.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

from ..engine import filters
from ..ingest.schema import EventIn, is_absent
from ..jobs.queue import enqueue
from ..store.db import database, is_postgres
from . import store


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
                enqueue("trigger_event", app_id, trigger_id, version, cause_of(event))
            elif cause == "metric" and event.userId:  # a milestone is an identified user's own
                milestones.add((trigger_id, version, str(event.userId)))
    for trigger_id, version, user_id in sorted(milestones):
        enqueue("trigger_milestone", app_id, trigger_id, version, user_id)


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
