"""An audience's members computed in SQL for the app's users, in chunks: its metrics over one
slice per chunk (engine/metrics.py, as a story build and a trigger's fan-out compute theirs),
then its ``when`` for each user. A refresh replaces the stored members in one transaction and
adds one count; ``refresh_app`` is what the hourly job runs for every audience of an app."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from peewee import IntegrityError

from ..engine import expressions, metrics
from ..engine.assemble import user_context
from ..engine.periods import resolve
from ..engine.users import actor_pairs, profiles_of, user_ids, utc_offsets
from ..store.db import write_transaction
from ..store.models import App, AudienceCount, AudienceMember, ChurnModel, StoredAudience, now_ms
from . import builtin, store
from .definition import Audience

log = logging.getLogger(__name__)

CHUNK = 250  # users per slice, as a story build takes them (engine/precompute.py)
INSERT_ROWS = 500  # members written a statement


def _days_ago(today: datetime) -> Callable[[Any], str]:
    def days_ago(n: Any) -> str:
        """The ISO date ``n`` days before the user's today (``last_play.date <= days_ago(30)``)."""
        if not expressions.is_number(n) or not 0 <= n <= 36600:
            raise ValueError("days_ago takes a number of days, 0 to 36600")
        return (today - timedelta(days=int(n))).date().isoformat()
    return days_ago


def compute(app_id: int, audience: Audience, users: list[str], now: datetime) -> set[str]:
    """Those of ``users`` in the audience now (one chunk: one slice, one query per metric kind)."""
    if not users:
        return set()
    profiles = profiles_of(app_id, users)
    template = audience.metrics_template
    offsets = utc_offsets(template, App.get_by_id(app_id), profiles, users, now)
    period = resolve(audience.spec["period"], now)
    base = {**expressions.story_globals(), "period": period.as_json(), "app": {}, "template": {"id": audience.id}}
    contexts = {uid: {**base, "user": user_context(uid, profiles.get(uid)),
                      "days_ago": _days_ago(now + timedelta(minutes=offsets[uid]))} for uid in users}
    values = metrics.compute(template, app_id, period, actor_pairs(app_id, users), now, contexts=contexts,
                             offsets=offsets)
    when = audience.spec["when"]
    return {uid for uid in users if expressions.truthy(when, {**values[uid], **contexts[uid]})}


def everyone(app_id: int, audience_id: str, now: datetime) -> tuple[set[str], int, int]:
    """(the members among all the app's users, how many users, the version computed; 0 built in)."""
    if audience_id in builtin.BUILTIN:
        return builtin.churners(app_id), len(user_ids(app_id)), 0
    audience = store.current(app_id, audience_id)
    users = user_ids(app_id)
    found: set[str] = set()
    for i in range(0, len(users), CHUNK):
        found |= compute(app_id, audience, users[i:i + CHUNK], now)
    return found, len(users), audience.number


def refresh(app_id: int, audience_id: str, now: datetime | None = None) -> int:
    """Compute the audience for all the app's users and store its members in place of the
    last refresh's, with a count; how many members."""
    now = now or datetime.now(UTC)
    found, users, number = everyone(app_id, audience_id, now)
    at = now_ms()
    rows = [{"app_id": app_id, "audience_id": audience_id, "user_id": uid, "computed_at": at} for uid in sorted(found)]
    for attempt in range(2):
        try:
            with write_transaction():  # readers see the last refresh's members or this one's, never a mix
                AudienceMember.delete().where((AudienceMember.app_id == app_id)
                                              & (AudienceMember.audience_id == audience_id)).execute()
                for i in range(0, len(rows), INSERT_ROWS):
                    AudienceMember.insert_many(rows[i:i + INSERT_ROWS]).execute()
                AudienceCount.create(app_id=app_id, audience_id=audience_id, version=number, members=len(found),
                                     users=users, computed_at=at)
            break
        except IntegrityError:
            # PostgreSQL: another refresh of the audience committed its rows after this one's
            # delete had looked; deleting again now sees them.
            if attempt:
                raise
    log.info("audience %s of app %s: %d members of %d users", audience_id, app_id, len(found), users)
    return len(found)


def refresh_app(app_id: int, now: datetime | None = None) -> dict[str, int]:
    """Refresh every audience of the app, saved and built in: id → members."""
    return {audience_id: refresh(app_id, audience_id, now)
            for audience_id in builtin.available(app_id) + store.ids(app_id)}


def apps_with_audiences() -> list[int]:
    """The apps with a saved audience or a churn model (whose likely_to_churn is built in)."""
    saved = {row.app_id for row in StoredAudience.select(StoredAudience.app_id).distinct()}
    modelled = {row.app_id for row in ChurnModel.select(ChurnModel.app_id).distinct()}
    return sorted(saved | modelled)
