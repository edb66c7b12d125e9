"""An app's triggers in the database: every save a new version, the latest one acts.

Kept as audiences are (store/versioned.py: the text as sent, never changed, a row per
trigger holding the latest number, saves numbered under the write lock), without drafts: a
trigger is tried with its dry run before it is saved, and going back is saving an older text
again (``recap triggers push``). A process caches parsed versions, which never change.
"""
from __future__ import annotations

import threading
from typing import Any

from flask import current_app

from ..engine import template_store
from ..engine.errors import error_entry
from ..engine.registry import registry
from ..errors import NotFound
from ..store import versioned
from ..store.db import url
from ..store.models import StoredTrigger, TriggerVersion
from .definition import STORY_PERIODS, Trigger, TriggerInvalid, parse

REQUEST_BODY = "<request body>"


def allow_local() -> bool:
    """Whether webhooks may go to this machine (``RECAP_WEBHOOK_ALLOW_LOCAL=1``: tests, a demo)."""
    return str(current_app.config.get("WEBHOOK_ALLOW_LOCAL", "")).lower() in ("1", "true", "yes")


def check(trigger_id: str, text: str, fmt: str = "toml", file: str = REQUEST_BODY) -> Trigger:
    return parse(trigger_id, text, fmt, file, allow_local=allow_local())


def save(app_id: int, trigger_id: str, text: str, fmt: str = "toml", *, key_id: int | None = None,
         file: str = REQUEST_BODY) -> int:
    """Save ``text`` as the trigger's next version, which acts from now on; its number.
    Invalid → TriggerInvalid and nothing saved. Two saves at once get two numbers."""
    trigger = check(trigger_id, text, fmt, file)
    if trigger.story is not None and trigger.story not in {t["id"] for t in template_store.listing(app_id)}:
        path = "story" if "story" in trigger.spec else "on.story"
        raise TriggerInvalid(file, [error_entry(path, f"The app has no story template {trigger.story!r}.")])
    covered = registry.get(app_id, trigger.story).spec["period"] if trigger.cause == "story" and trigger.story else {}
    if covered and covered["kind"] not in STORY_PERIODS:
        raise TriggerInvalid(file, [error_entry("on.story", "The story's period must be a year or a month: a rolling "
                                                            "period is always available, so it never becomes so.")])
    return versioned.save(StoredTrigger, TriggerVersion, _key(app_id, trigger_id), text, fmt, key_id)


def _key(app_id: int, trigger_id: str) -> dict[str, Any]:
    return {"app_id": app_id, "trigger_id": trigger_id}


def latest(app_id: int, trigger_id: str) -> int | None:
    return versioned.latest(StoredTrigger, _key(app_id, trigger_id))


_parsed: versioned.Parsed[Trigger] = versioned.Parsed()
_cache_lock = threading.Lock()  # (the names that start triggers, below)


def current(app_id: int, trigger_id: str) -> Trigger:
    """The trigger's latest version, parsed (cached), or NotFound."""
    number = latest(app_id, trigger_id)
    if number is None:
        raise unknown_trigger(trigger_id)
    return version(app_id, trigger_id, number)


def version(app_id: int, trigger_id: str, number: int) -> Trigger:
    def load() -> Trigger:
        row = _version_row(app_id, trigger_id, number)
        # Saved only once valid; its webhook's addresses are checked again at each delivery.
        parsed = parse(trigger_id, row.source, row.format, f"app {app_id} trigger {trigger_id} version {number}",
                       allow_local=True)
        parsed.number = number
        return parsed
    return _parsed.get(app_id, trigger_id, number, load)


def active(app_id: int) -> list[Trigger]:
    """The app's enabled triggers, each at its latest version."""
    rows = StoredTrigger.select(StoredTrigger.trigger_id, StoredTrigger.latest).where(StoredTrigger.app_id == app_id)
    found = [version(app_id, row.trigger_id, row.latest) for row in rows]
    return [trigger for trigger in found if trigger.spec["enabled"]]


ANY_EVENT = ""  # the key of triggers any event of a user may start (a milestone of a derived metric)
Starts = dict[str, list[tuple[str, int, str]]]
Latest = tuple[tuple[str, int], ...]  # the app's (trigger id, latest version) pairs
_starting: dict[tuple[str, int], tuple[Latest, Starts]] = {}


def starting(app_id: int) -> Starts:
    """Event name → the (trigger id, version, cause) it may start, for the app's enabled event
    and milestone triggers (a milestone: the names its metric counts, or ANY_EVENT): what ingest
    looks up for every event.

    Each call reads the app's (trigger, latest version) pairs, one indexed read per request, and
    builds the table again only when they changed: a trigger saved through any process acts on
    the next event any process stores. (A table kept for a few seconds let gunicorn's other
    workers store a release without telling anyone.)"""
    rows = (StoredTrigger.select(StoredTrigger.trigger_id, StoredTrigger.latest)
            .where(StoredTrigger.app_id == app_id).order_by(StoredTrigger.trigger_id))
    latest_now: Latest = tuple((row.trigger_id, row.latest) for row in rows)
    key = (url(), app_id)
    hit = _starting.get(key)
    if hit is not None and hit[0] == latest_now:
        return hit[1]
    found: Starts = {}
    for trigger_id, number in latest_now:
        trigger = version(app_id, trigger_id, number)
        if not trigger.spec["enabled"]:
            continue
        names = trigger.events if trigger.cause == "event" else trigger.milestone_events()
        for name in [ANY_EVENT] if names is None else names:
            found.setdefault(name, []).append((trigger.id, trigger.number, trigger.cause))
    with _cache_lock:
        _starting[key] = (latest_now, found)
    return found


def _version_row(app_id: int, trigger_id: str, number: int) -> TriggerVersion:
    row: TriggerVersion | None = versioned.version_row(TriggerVersion, _key(app_id, trigger_id), number)
    if row is None:
        raise NotFound(f"The trigger {trigger_id!r} has no version {number}.",
                       details={"trigger": trigger_id, "version": number})
    return row


def source(app_id: int, trigger_id: str, number: int | None = None) -> dict[str, Any]:
    """A version's text as saved (the latest without ``number``): id, version, format, source,
    created_at, key_id."""
    if number is None:
        number = latest(app_id, trigger_id)
        if number is None:
            raise unknown_trigger(trigger_id)
    row = _version_row(app_id, trigger_id, number)
    return {"id": trigger_id, "version": number, "format": row.format, "source": row.source,
            "created_at": row.created_at, "key_id": row.key_id}


def versions(app_id: int, trigger_id: str) -> list[dict[str, Any]]:
    return versioned.listing(TriggerVersion, _key(app_id, trigger_id))


def listing(app_id: int) -> list[dict[str, Any]]:
    """The app's triggers: id, latest, cause, events, enabled, webhook, updated_at."""
    out = []
    for row in StoredTrigger.select().where(StoredTrigger.app_id == app_id).order_by(StoredTrigger.trigger_id):
        trigger = version(app_id, row.trigger_id, row.latest)
        out.append({"id": row.trigger_id, "latest": row.latest, "cause": trigger.cause, "on": trigger.spec["on"],
                    "enabled": trigger.spec["enabled"], "webhook": trigger.spec["webhook"],
                    "updated_at": row.updated_at})
    return out


def unknown_trigger(trigger_id: object) -> NotFound:
    shown = str(trigger_id)[:100]
    return NotFound(f"No trigger named {shown!r}.", details={"trigger": shown})
