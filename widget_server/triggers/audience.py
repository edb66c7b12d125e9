"""Who a trigger tells, and what: its metrics computed for a chunk of users in SQL, as a story
build computes a template's (engine/metrics.py over one slice for all of them), its ``audience``
evaluated for each with the triggering event as ``event``, and its message rendered. A trigger
naming a saved audience (``audience_ref``, audiences/) looks only at that audience's members.

Each user is written to in their own language, as their story is (engine/locales.py): the users
are taken a locale at a time, their metrics and message formatted in it, and a message that is a
table of translations (``title = { en = "…", de = "…" }``) read down the locale's chain."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..engine import expressions, locales, memberships, metrics
from ..engine.assemble import user_context
from ..engine.periods import resolve
from ..engine.translations import DEFAULT_LOCALE, translated
from ..engine.users import actor_pairs, profiles_of, utc_offsets
from ..store.models import App, Profile
from .definition import Trigger

OPT_OUT_TRAIT = "recap_opt_out"  # a user whose traits hold it truthy is never notified
CHUNK = 250  # users per slice, as a story build takes them (engine/precompute.py)


@dataclass(frozen=True)
class Chosen:
    user_id: str
    title: str
    body: str
    utc_offset: int  # minutes east of UTC in the user's zone now: their day and quiet hours


def event_scope(cause: dict[str, Any]) -> dict[str, Any]:
    """The triggering event as expressions read it: ``event.name``, ``.properties``, ``.timestamp``."""
    return {"name": cause.get("event"), "type": cause.get("type"), "properties": cause.get("properties") or {},
            "timestamp": cause.get("timestamp")}


def choose(trigger: Trigger, app: App, user_ids: list[str], cause: dict[str, Any], now: datetime) -> list[Chosen]:
    """Those of ``user_ids`` in the trigger's audience, not opted out, with their messages (in
    ``user_ids``' order)."""
    profiles = profiles_of(app.id, user_ids)
    # Erased users have no profile; opted-out users are left out before anything is computed.
    wanted = [uid for uid in user_ids if uid in profiles and not opted_out(profiles[uid])]
    if wanted and "audience_ref" in trigger.spec:  # only the members of the app's audience it names
        members = memberships.members(app.id, trigger.spec["audience_ref"], wanted)
        wanted = [uid for uid in wanted if uid in members]
    if not wanted:
        return []
    template = trigger.metrics_template
    offsets = utc_offsets(template, app, profiles, wanted, now)
    period = resolve(trigger.spec["period"], now)
    users = {uid: user_context(uid, profiles[uid]) for uid in wanted}
    by_locale: dict[str, list[str]] = {}
    for uid in wanted:
        tag = locales.of_user(None, profiles[uid].locale, users[uid]["traits"], app.locale)
        by_locale.setdefault(tag, []).append(uid)
    chosen = []
    for tag, uids in by_locale.items():
        with locales.use(tag):
            base = {**expressions.story_globals(), "event": event_scope(cause), "period": period.as_json(),
                    "app": {"name": app.name}, "template": {"id": trigger.id}}
            values = metrics.compute(template, app.id, period, actor_pairs(app.id, uids), now,
                                     contexts={uid: {**base, "user": users[uid]} for uid in uids}, offsets=offsets)
            chosen += [one for uid in uids
                       if (one := _written(trigger, {**values[uid], **base, "user": users[uid]}, uid, tag,
                                           offsets[uid])) is not None]
    order = {uid: i for i, uid in enumerate(wanted)}
    return sorted(chosen, key=lambda one: order[one.user_id])


def _written(trigger: Trigger, context: dict[str, Any], uid: str, tag: str, offset: int) -> Chosen | None:
    """The user's message in ``tag``, or None when they are not in the audience, or it cannot be
    written for them (missing data: it is not sent)."""
    audience = trigger.spec.get("audience")
    if not reached(trigger, context) or (audience is not None and not expressions.truthy(audience, context)):
        return None
    message = trigger.spec["message"]

    def text(field: Any) -> str:
        return expressions.render(expressions.pick_variant(translated(field, tag, DEFAULT_LOCALE), uid + trigger.id),
                                  context)
    try:
        return Chosen(uid, text(message["title"]), text(message.get("body", "")), offset)
    except expressions.ExpressionFailed:
        return None


def opted_out(profile: Profile | None) -> bool:
    traits = profile.traits if profile is not None and isinstance(profile.traits, dict) else {}
    value = traits.get(OPT_OUT_TRAIT)
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes")) or value == 1


def reached(trigger: Trigger, values: dict[str, Any]) -> bool:
    """Whether a milestone's metric is at or past its number for the user (always, for other causes)."""
    on = trigger.spec["on"]
    if "metric" not in on:
        return True
    value = values.get(on["metric"])
    return expressions.is_number(value) and value >= on["reaches"]
