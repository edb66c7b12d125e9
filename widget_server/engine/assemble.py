"""``assemble_story``: a user's story for a template, precomputed when available, else on demand."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, Literal, cast
from urllib.parse import urlparse

from .. import monitoring
from ..errors import NotFound
from ..store.models import App, PrecomputedStory, Profile
from . import experiments, locales, memberships, metrics, template_store
from .errors import NotEligible
from .expressions import ExpressionFailed, is_number, render, story_globals, truthy
from .frames import Renderer
from .periods import Period, resolve
from .registry import registry
from .story_shape import ExperimentArm, Story, Theme
from .template_schema import COLOR
from .templates import StoryTemplate
from .translations import DEFAULT_LOCALE
from .users import actor_pairs, profiles_of, utc_offsets

log = logging.getLogger(__name__)

DEFAULT_THEME: dict[str, str] = {"background": "#121212", "foreground": "#ffffff", "accent": "#1ed760"}


def assemble_story(app_id: int, template_id: str, user_id: str, *, now: datetime | None = None,
                   fresh: bool = False, version: int | None = None, locale: str | None = None) -> Story:
    """The story JSON for ``user_id`` (see docs/STORIES.md), from the published template, or
    from its saved ``version`` (a preview: always assembled, never a built story); in ``locale``
    (a canonical tag, ``locales.checked``) when given, else in the user's own.

    Raises NotFound for an unknown app, template or version and NotEligible when a rule is not met.
    """
    if version is None:
        template = registry.get(app_id, template_id)
    else:
        template, fresh = template_store.version(app_id, template_id, version), True
    app = App.get_or_none(App.id == app_id)
    if app is None:
        raise NotFound("No such app.", details={"app_id": app_id})
    now = now or datetime.now(UTC)
    profile = Profile.get_or_none((Profile.app_id == app_id) & (Profile.user_id == user_id))
    profiles = {user_id: profile} if profile else {}
    # The user's own today decides the period ("your last 7 days" ends on their local date). A
    # story built for another date's period is not theirs: it is assembled on demand instead.
    offsets = utc_offsets(template, app, profiles, [user_id], now)
    period = resolve(template.spec["period"], now, offsets[user_id])
    if not fresh:
        stored = precomputed(app, template, period.key, user_id)
        # A built story is in the locale its user had then: served while that is still theirs.
        if stored is not None and stored.get("locale") == user_locale(app, profile, locale):
            return stored
    outcome = assemble_many(app, template, period, [user_id], now=now, offsets=offsets, profiles=profiles,
                            locale=locale)[user_id]
    if isinstance(outcome, NotEligible):
        raise outcome
    return outcome


def preview(app_id: int, template: StoryTemplate, user_ids: list[str], *,
            now: datetime | None = None) -> dict[str, tuple[Story | NotEligible, list[dict[str, str]]]]:
    """Stories of an unsaved or unpublished template (the studio), each with its notes: which
    frames were skipped for that user, or shown as their fallback, and why. Each user's period is
    their own, as assemble_story's; nothing is read from or written to the built stories."""
    app = App.get_or_none(App.id == app_id)
    if app is None:
        raise NotFound("No such app.", details={"app_id": app_id})
    now = now or datetime.now(UTC)
    profiles = profiles_of(app.id, user_ids)
    offsets = utc_offsets(template, app, profiles, user_ids, now)
    by_period: dict[str, tuple[Period, list[str]]] = {}
    for uid in user_ids:
        period = resolve(template.spec["period"], now, offsets[uid])
        by_period.setdefault(period.key, (period, []))[1].append(uid)
    notes: dict[str, list[dict[str, str]]] = {}
    out: dict[str, tuple[Story | NotEligible, list[dict[str, str]]]] = {}
    for period, uids in by_period.values():
        for uid, outcome in assemble_many(app, template, period, uids, now=now, offsets=offsets,
                                          profiles=profiles, notes=notes).items():
            out[uid] = (outcome, notes.get(uid, []))
    return out


def user_locale(app: App, profile: Profile | None, override: str | None = None) -> str:
    """The locale a user's story is in (engine/locales.py), from their ``profile``."""
    if override is not None:
        return override
    return locales.of_user(None, profile.locale if profile else None, profile.traits if profile else None, app.locale)


def precomputed(app: App, template: StoryTemplate, period_key: str, user_id: str) -> Story | None:
    """The user's built story, if one was built for this period from the template's version that
    serves now (its number and content) and the app's settings as they are now."""
    row = (PrecomputedStory.select(PrecomputedStory.story)
           .where((PrecomputedStory.app_id == app.id) & (PrecomputedStory.template_id == template.id)
                  & (PrecomputedStory.period_key == period_key) & (PrecomputedStory.user_id == user_id)
                  & (PrecomputedStory.template_version == template.number)
                  & (PrecomputedStory.built_from == built_from(template, app)))
           .tuples().first())
    return cast(Story, json.loads(row[0])) if row else None  # stored by the build, of this shape


def built_from(template: StoryTemplate, app: App) -> str:
    """What a story depends on besides the user's events and the period, as a hash: the
    template's content, and the app's settings a story shows (its name, deep-link scheme and
    share base URL are in every template's scope; the brand colours the theme, the host the
    footer). A built story is served only while this is the same."""
    settings = json.dumps([app.name, app.deep_link_scheme, app.share_base_url, app.brand],
                          sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{template.version}|{settings}".encode()).hexdigest()[:16]


def assemble_many(app: App, template: StoryTemplate, period: Period, user_ids: list[str], *,
                  now: datetime | None = None, source: Literal["on_demand", "precomputed"] = "on_demand",
                  offsets: dict[str, int] | None = None, profiles: dict[str, Profile] | None = None,
                  notes: dict[str, list[dict[str, str]]] | None = None,
                  locale: str | None = None) -> dict[str, Story | NotEligible]:
    """Stories for several users at once: one slice, one query per metric kind for all of them
    (``offsets`` and ``profiles``: the users' ``utc_offsets`` and ``profiles_of`` when the caller
    has them already; ``notes``: a list
    per user, filled with why each frame not shown as written was skipped or replaced;
    ``locale``: every story in it, instead of each user's own).

    Metrics name months and weekdays, so users are taken a locale at a time: one slice per locale
    among them (an app's users speak a few)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    profiles = profiles_of(app.id, user_ids) if profiles is None else profiles
    offsets = utc_offsets(template, app, profiles, user_ids, now) if offsets is None else offsets
    users = {uid: user_context(uid, profiles.get(uid)) for uid in user_ids}
    by_locale: dict[str, list[str]] = {}
    for uid in user_ids:
        profile = profiles.get(uid)
        tag = locales.of_user(locale, profile.locale if profile else None, users[uid]["traits"], app.locale)
        by_locale.setdefault(tag, []).append(uid)
    theme = _theme(template, app)
    footer = _footer(app)
    generated = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: dict[str, Story | NotEligible] = {}
    audiences = {rule["audience"]: memberships.members(app.id, rule["audience"], user_ids)
                 for rule in template.spec["eligibility"] if "audience" in rule}
    for tag, uids in by_locale.items():
        with locales.use(tag):
            base = {**story_globals(), "period": period.as_json(), "template": {"id": template.id},
                    "app": {"name": app.name, "deep_link_scheme": app.deep_link_scheme,
                            "share_base_url": app.share_base_url}}
            values = metrics.compute(template, app.id, period, actor_pairs(app.id, uids), now,
                                     contexts={uid: {**base, "user": users[uid]} for uid in uids},
                                     names=template.used, offsets=offsets)
            for uid in uids:
                context = {**values[uid], **base, "user": users[uid]}
                try:
                    _check_eligibility(template, period, context, {a for a, found in audiences.items() if uid in found})
                except NotEligible as exc:
                    out[uid] = exc
                    continue
                out[uid] = _story(template, app, period, context, theme, footer, generated, source, uid,
                                  notes.setdefault(uid, []) if notes is not None else None)
    monitoring.STORY_SECONDS.labels(source).observe(time.perf_counter() - started)
    return {uid: out[uid] for uid in user_ids}


def user_context(user_id: str, profile: Profile | None) -> dict[str, Any]:
    traits = profile.traits if profile and isinstance(profile.traits, dict) else {}
    return {"id": user_id, "traits": traits, "name": traits.get("name") or traits.get("first_name") or "",
            "timezone": profile.timezone if profile else None}


def _check_eligibility(template: StoryTemplate, period: Period, context: dict[str, Any],
                       member_of: set[str]) -> None:
    # The answer names the period's days: "this year" alone is untrue for someone whose plays
    # all came after the cut-off (they did play this year; those plays count for no story).
    covers = f"This story covers {period.span}."
    for i, rule in enumerate(template.spec["eligibility"]):
        if "metric" in rule:
            actual = context.get(rule["metric"])
            if not is_number(actual):  # none, or a derived text
                actual = 0
            if actual < rule["min"]:
                raise NotEligible(f"{rule['message']} {covers}", details={
                    "rule": f"eligibility[{i}]", "metric": rule["metric"], "required": rule["min"],
                    "actual": actual, "missing": rule["min"] - actual, "period": period.as_json()})
        if "when" in rule and not truthy(rule["when"], context):
            raise NotEligible(f"{rule['message']} {covers}", details={
                "rule": f"eligibility[{i}]", "when": rule["when"], "period": period.as_json()})
        if "audience" in rule and rule["audience"] not in member_of:
            raise NotEligible(rule["message"], details={"rule": f"eligibility[{i}]", "audience": rule["audience"]})


def _theme(template: StoryTemplate, app: App) -> Theme:
    brand = app.brand if isinstance(app.brand, dict) else {}
    theme: dict[str, str] = {**DEFAULT_THEME, **template.spec.get("theme", {})}
    theme.update({key: brand[key] for key in DEFAULT_THEME
                  if isinstance(brand.get(key), str) and COLOR.match(brand[key])})
    return cast(Theme, theme)  # the template schema checked the template's keys, these are the default's


def _footer(app: App) -> str:
    host = urlparse(app.share_base_url).hostname if app.share_base_url else None
    return host or app.name


def _story(template: StoryTemplate, app: App, period: Period, context: dict[str, Any], theme: Theme,
           footer: str, generated: str, source: Literal["on_demand", "precomputed"], uid: str,
           notes: list[dict[str, str]] | None = None) -> Story:
    renderer = Renderer(context, f"{template.id}|{uid}", app.deep_link_scheme, notes,
                        template.spec.get("default_locale", DEFAULT_LOCALE))
    experiment = template.spec.get("experiment")
    variant = experiments.assign(experiment, template.id, uid) if experiment else None
    frame_specs, card_spec = template.spec["frames"], template.spec["card"]
    arm: ExperimentArm | None = None
    if experiment and variant:
        frame_specs, card_spec = experiments.apply(template.spec, variant)
        arm = {"id": experiment["id"], "variant": variant["id"]}
    frames = [f for f in (renderer.frame(spec) for spec in frame_specs) if f is not None]
    try:
        card = renderer.card(card_spec, theme, footer)
    except ExpressionFailed:
        # The card title must exist: fall back to the template's own name rather than a blank.
        card = renderer.card({**card_spec, "title": template.id.replace("-", " ").title()}, theme, footer)
    frames.append(renderer.card_frame(card_spec, card))
    try:
        title = renderer.text(template.spec["title"], "title", required=True)
    except ExpressionFailed:
        title = render("{{ period.label }}", context)
    tag = locales.current()
    return {"template": template.id, "version": template.number, "title": title, "period": period.as_json(),
            "locale": tag, "direction": locales.direction(tag), "generated_at": generated, "source": source,
            "app": {"name": app.name, "deep_link_scheme": app.deep_link_scheme}, "theme": theme, "frames": frames,
            "card": card, "experiment": arm}
