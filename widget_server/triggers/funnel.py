"""A trigger's funnel: notifications sent → delivered → opened → story completed → shared.

Sent and delivered are its deliveries; the rest are the player's own events, which name the
delivery a story was opened from (the story link's ``delivery``): counted once per delivery, in
SQL over the events found by name (store/event_keys.py).
"""
from __future__ import annotations

from typing import Any

from ..engine.periods import DAY_MS
from ..http import iso_time
from ..store import event_keys
from ..store.db import database
from ..store.dialect import json_value_sql
from ..store.models import Delivery, StoredTrigger
from . import store

STEPS = {"notification_opened": "opened", "story_completed": "completed", "story_shared": "shared"}
SENT = ("pending", "retrying", "delivered", "failed")  # made to be sent (not capped, not dropped)


def funnel(app_id: int, trigger_id: str, days: int, now_ms: int) -> dict[str, Any]:
    """``{"trigger", "since", "sent", "delivered", "opened", "completed", "shared"}`` for the
    deliveries made in the last ``days`` days."""
    since = now_ms - days * DAY_MS
    mine = (Delivery.app_id == app_id) & (Delivery.trigger_id == trigger_id) & (Delivery.created_at >= since)
    sent = Delivery.select().where(mine & Delivery.status.in_(SENT)).count()
    delivered = Delivery.select().where(mine & (Delivery.status == "delivered")).count()
    found, params = event_keys.by_name("event", app_id, tuple(STEPS), since)
    delivery = json_value_sql("properties", "delivery")
    p = database.param
    sql = (f"SELECT name, COUNT(DISTINCT {delivery}) FROM event WHERE {found} AND type = 'track' AND {delivery} IN "
           f"(SELECT id FROM delivery WHERE app_id = {p} AND trigger_id = {p} AND created_at >= {p}) GROUP BY name")
    counted = dict.fromkeys(STEPS.values(), 0)
    for name, n in database.execute_sql(sql, [*params, app_id, trigger_id, since]).fetchall():
        counted[STEPS[name]] = n
    return {"trigger": trigger_id, "since": iso_time(since), "sent": sent, "delivered": delivered, **counted}


def for_story(app_id: int, template_id: str, days: int, now_ms: int) -> list[dict[str, Any]]:
    """The funnel of each of the app's triggers whose notifications link this story (the story
    dashboard's), by trigger id."""
    ids = [row.trigger_id for row in StoredTrigger.select(StoredTrigger.trigger_id)
           .where(StoredTrigger.app_id == app_id).order_by(StoredTrigger.trigger_id)]
    return [funnel(app_id, trigger_id, days, now_ms) for trigger_id in ids
            if store.current(app_id, trigger_id).story == template_id]
