"""Computing a template's metrics for one or many users: SQL kinds over the slice, then the kinds
built from other metrics (percentile, change, tiers, derived values and labels)."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..store.models import App
from . import arithmetic, expressions, locales, metrics_sql, population, users
from . import slice as story_slice
from .periods import DAY_MS, Period
from .templates import StoryTemplate
from .translations import DEFAULT_LOCALE, translated

log = logging.getLogger(__name__)


def compute(template: StoryTemplate, app_id: int, period: Period, actors: list[tuple[str, str]],
            now: datetime | None = None, contexts: dict[str, dict[str, Any]] | None = None,
            names: frozenset[str] | None = None, offsets: dict[str, int] | None = None) -> metrics_sql.Results:
    """Metric values per uid for ``actors`` (pairs of actor, uid): all metrics, or only ``names``.
    ``offsets`` are the users' ``users.utc_offsets`` when the caller has them already.

    Builds the slice, answers every metric's query over it at once, and drops it again.
    """
    now = now or datetime.now(UTC)
    uids = list(dict.fromkeys(uid for _, uid in actors))
    results: metrics_sql.Results = defaultdict(dict)
    plan = story_slice.plan_for(template, names)
    metrics = {k: v for k, v in template.metrics.items() if names is None or k in names}
    # A change of a derived metric reads its scalar inputs in the period before.
    previous_of = {n for m in metrics.values() if m["kind"] == "change"
                   for n in arithmetic.scalar_inputs(template.metrics, m["of"]) or ()}
    counted_by = _answered_by(metrics, plan, "distinct", "top", skip=previous_of, same_property=True)
    streaks_of = _answered_by(metrics, plan, "streak", "record_day")
    # A current streak ends on the user's own local today, in the zone of their events' days.
    if offsets is None:
        offsets = users.utc_offsets(template, App.get_by_id(app_id), users.profiles_of(app_id, uids), uids, now)
    today = [(int(now.timestamp() * 1000) + offsets[uid] * 60_000) // DAY_MS for uid in uids]
    scalars = metrics_sql.scalars({k: v for k, v in metrics.items() if k not in counted_by}, plan, previous_of,
                                  uids, results)
    queries = [scalars] if scalars else []
    for name, metric in metrics.items():
        kind = metric["kind"]
        if kind == "top":
            peaks = [n for n, m in metrics.items() if m["kind"] == "peak_month" and m["of"] == name]
            counts = {n: metrics[n] for n, top in counted_by.items() if top == name}
            queries.append(metrics_sql.top(name, metric, plan, period, uids, results, peaks, counts))
        elif kind in ("first", "last"):
            queries.append(metrics_sql.first_last(name, metric, plan, uids, results))
        elif kind == "streak" and name not in streaks_of:
            queries.append(metrics_sql.streak(name, metric, plan, period, today, uids, results))
        elif kind == "series":
            queries.append(metrics_sql.series(name, metric, plan, period, uids, results))
        elif kind == "record_day":
            streaks = {n: metrics[n] for n, day in streaks_of.items() if day == name}
            queries.append(metrics_sql.record_day(name, metric, plan, period, today, uids, results, streaks))
    with story_slice.scope(len(uids)):
        story_slice.answer(story_slice.build(template, plan, app_id, actors, period, with_previous=bool(previous_of)),
                           queries, uids)
    later = Later(
        distributions={name: population.lookup(app_id, template, period, metric["of"])
                       for name, metric in template.later_metrics.items()
                       if name in metrics and metric["kind"] == "percentile"},
        previous={m["of"]: arithmetic.formula(template.metrics, m["of"]) for m in metrics.values()
                  if m["kind"] == "change"},
        arithmetic=frozenset(name for name, m in metrics.items() if m["kind"] == "derived"
                             and arithmetic.scalar_inputs(template.metrics, name) is not None))
    for uid in uids:
        _derive(template, results[uid], (contexts or {}).get(uid, {}), metrics, later)
    return results


@dataclass(frozen=True)
class Later:
    """What the kinds built from other metrics read besides a user's values, found once per call:
    the percentiles' distributions, the formulas of what changes are of (their value in the
    period before), and the derived metrics that are arithmetic over scalars."""

    distributions: dict[str, dict[str, Any] | None]
    previous: dict[str, arithmetic.Formula]
    arithmetic: frozenset[str]


def _answered_by(metrics: dict[str, dict[str, Any]], plan: story_slice.Plan, kind: str, host_kind: str, *,
                 skip: frozenset[str] | set[str] = frozenset(), same_property: bool = False) -> dict[str, str]:
    """Metrics of ``kind`` that the query of a ``host_kind`` metric over the same events answers
    too, each with that host's name: a distinct count is a top list's number of labels, a streak
    runs over a record day's days. Each saves a pass over the slice."""
    found = {}
    for name, metric in metrics.items():
        if metric["kind"] != kind or name in skip:
            continue
        for host, other in metrics.items():
            if (other["kind"] == host_kind and plan.metric_filters[host] == plan.metric_filters[name]
                    and (not same_property or other["property"] == metric["property"])):
                found[name] = host
                break
    return found


def _derive(template: StoryTemplate, values: dict[str, Any], extra: dict[str, Any],
            wanted: dict[str, dict[str, Any]], later: Later) -> None:
    """percentile, change, tier, derived and label, in the order the template declares them (a
    percentile or change of a derived metric comes after it)."""
    previous = {key.removesuffix("@previous"): values.pop(key)
                for key in [k for k in values if k.endswith("@previous")]}
    for name, metric in template.later_metrics.items():
        if name not in wanted:
            continue
        kind = metric["kind"]
        if kind == "percentile":
            values[name] = population.rank(later.distributions[name], values.get(metric["of"]))
        elif kind == "change":
            values[name] = change(values.get(metric["of"]), later.previous[metric["of"]].value(previous))
        elif kind == "tier":
            values[name] = in_locale(tier(values.get(metric["of"]), metric["tiers"]), template)
        elif kind == "derived" and name in later.arithmetic:  # as the population and the period before
            values[name] = arithmetic.evaluate(metric["expr"], values)
        elif kind == "derived":
            try:
                values[name] = expressions.evaluate(metric["expr"], {**extra, **values})
            except expressions.ExpressionFailed as exc:
                log.debug("derived metric %s unavailable: %s", name, exc)
                values[name] = None
        elif kind == "label":
            context = {**extra, **values}
            values[name] = in_locale(next((rule["label"] for rule in metric["rules"]
                                           if expressions.truthy(rule["when"], context)), metric.get("default")),
                                     template)


def change(current: Any, previous: Any) -> dict[str, Any] | None:
    if current is None:
        return None
    previous = previous or 0
    delta = metrics_sql.tidy(current - previous)  # (139.932 - 100.1 is 39.83200000000001)
    return {"current": current, "previous": previous, "delta": delta,
            "percent": (delta / previous) if previous else None,
            "direction": "up" if delta > 0 else "down" if delta < 0 else "same"}


def in_locale(label: Any, template: StoryTemplate) -> str | None:
    """A tier's or a rule's label in the story's locale (``translations.translated``): metrics are
    computed a locale at a time (assemble.assemble_many), and the value a text prints is a word."""
    if label is None:
        return None
    return str(translated(label, locales.current(), template.spec.get("default_locale", DEFAULT_LOCALE)))


def tier(value: Any, tiers: list[dict[str, Any]]) -> Any:
    """The label of the highest tier whose ``min`` the value reaches."""
    if not expressions.is_number(value):  # (a derived metric may be text)
        return None
    reached = [t for t in tiers if value >= t["min"]]
    return max(reached, key=lambda t: t["min"])["label"] if reached else None
