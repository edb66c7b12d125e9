"""Helpers for tests of the event keys: what the key tables find, what a scan finds, a pass."""
from __future__ import annotations

from widget_server.store import event_keys
from widget_server.store.db import database

EVERYTHING = (0, 2 ** 62)


def found(query, app_id, actors, start_end=EVERYTHING):
    condition, params = event_keys.by_actor("e", app_id, actors, *start_end)
    return [row[0] for row in query(f"SELECT e.id FROM event e WHERE {condition} ORDER BY e.id", *params)]


def expected(query, app_id, actors):
    marks = ", ".join("?" * len(actors))
    return [row[0] for row in query(f"SELECT id FROM event WHERE app_id = ? AND actor IN ({marks}) ORDER BY id",
                                    app_id, *actors)]


def catch_up():
    with database.connection_context(), database.atomic():
        return event_keys.catch_up(database.connection(), limit=None)
