"""A trigger's dry run: how many users it would notify now, and five of their messages, with
nothing sent or recorded. The same choice as a fan-out (audience.py), over every user of the app;
for an event trigger, of the event the caller describes."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from ..engine.users import user_ids
from ..store.models import App
from . import audience, deliveries, events
from .definition import Trigger

SAMPLE = 5


def dry_run(app_id: int, trigger: Trigger, event: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"would_notify", "users", "matches", "sample": [{"user_id", "message"}]}``: ``users`` the
    candidates looked at, ``matches`` whether the event would start the trigger at all. Daily
    caps and quiet hours are not applied: they decide when, not whom."""
    now = datetime.fromtimestamp(deliveries.clock() / 1000, UTC)
    cause = _imagined(trigger, event or {})
    if trigger.cause == "event" and not events.matches(trigger.spec["on"], cause):
        return {"would_notify": 0, "users": 0, "matches": False, "sample": []}
    app = App.get_by_id(app_id)
    everyone = user_ids(app_id)
    would, sample = 0, list[dict[str, Any]]()
    for start in range(0, len(everyone), audience.CHUNK):
        chosen = audience.choose(trigger, app, everyone[start:start + audience.CHUNK], cause, now)
        would += len(chosen)
        sample += [{"user_id": c.user_id, "message": {"title": c.title, "body": c.body}}
                   for c in chosen[:SAMPLE - len(sample)]]
    return {"would_notify": would, "users": len(everyone), "matches": True, "sample": sample}


def _imagined(trigger: Trigger, event: dict[str, Any]) -> dict[str, Any]:
    """The cause a fan-out would read, for the event described (name, type, properties)."""
    name = event.get("name") or (trigger.events[0] if trigger.events else None)
    properties = event.get("properties") or {}
    key = hashlib.sha256(json.dumps([name, properties], sort_keys=True).encode()).hexdigest()
    return {"key": key, "kind": trigger.cause, "event": name, "type": event.get("type", "track"),
            "properties": properties, "timestamp": None, "message_id": None}
