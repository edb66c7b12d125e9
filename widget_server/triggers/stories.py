"""Stories becoming available, for triggers ``on = {story = "<template>"}``: a year's or a month's
period once its cut-off has passed (the engine's period rules), told of once per period to the
users eligible for it (the story's own eligibility rules, as a build assembles it)."""
from __future__ import annotations

from datetime import datetime

from ..engine.assemble import assemble_many
from ..engine.errors import NotEligible
from ..engine.periods import resolve
from ..engine.registry import registry
from ..errors import APIError
from ..store.models import App, StoredTrigger
from . import store
from .definition import STORY_PERIODS


def triggers() -> list[tuple[int, str, int]]:
    """(app id, trigger id, version) of every enabled story trigger, at its latest version."""
    found = []
    for row in StoredTrigger.select(StoredTrigger.app_id, StoredTrigger.trigger_id, StoredTrigger.latest):
        trigger = store.version(row.app_id, row.trigger_id, row.latest)
        if trigger.cause == "story" and trigger.spec["enabled"]:
            found.append((row.app_id, row.trigger_id, row.latest))
    return found


def available(app_id: int, template_id: str, now: datetime) -> str | None:
    """The key of the template's period available at ``now``, or None (no such template now, or
    a period that does not become available)."""
    try:
        template = registry.get(app_id, template_id)
    except APIError:  # removed or broken since it was named: nothing to tell of
        return None
    if template.spec["period"]["kind"] not in STORY_PERIODS:
        return None
    return resolve(template.spec["period"], now).key


def eligible(app: App, template_id: str, period_key: str, users: list[str], now: datetime) -> list[str]:
    """Those of ``users`` whose story of that period is available (eligible), assembled as a build does."""
    template = registry.get(app.id, template_id)
    period = resolve(template.spec["period"], now)
    if period.key != period_key:  # a newer period meanwhile: its own run tells of it
        return []
    stories = assemble_many(app, template, period, users, now=now)
    return [uid for uid in users if not isinstance(stories[uid], NotEligible)]
