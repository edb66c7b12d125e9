"""The story slice: the rows of the users being assembled, for the period, read once from the
event store with local time, local day and the needed properties already extracted.

Every metric then scans this small table instead of the event store, so the cost of a story
grows with the user's own events, not with the size of the database. The slice is keyed by
``uid`` so the same SQL assembles one user on demand or hundreds at once in ``stories build``.
The metrics' queries over it are answered together (``answer``): on PostgreSQL in one statement
with the slice as a CTE, on SQLite over a temporary table (``dialect.over_scratch``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..store import dialect, event_keys
from ..store.db import database
from . import filters
from .periods import DAY_MS, ZONE_MARGIN_MS, Period
from .templates import StoryTemplate

TABLE = "story_slice"
ACTORS = "story_slice_actors"  # (actor, uid position) of a slice of several users
# Event columns copied only when a metric reads them: each costs the copy about 1%.
# Kinds whose ``property`` is read as a number (a top list's ``sum_property`` is too).
NUMBER_PROPERTY_KINDS = ("sum", "avg", "min", "max", "share", "series", "record_day")
EVENT_COLUMNS = {"type": "e.type AS type", "eid": "e.id AS eid", "ts": "e.timestamp AS ts"}


@dataclass
class Plan:
    """What a template needs from the slice; computed once per loaded template."""

    columns: filters.Columns
    metric_filters: dict[str, dict[str, Any]]
    names: list[str] | None  # event names worth copying; None = every event
    event_columns: list[str]  # keys of EVENT_COLUMNS


def plan_for(template: StoryTemplate, wanted: frozenset[str] | None = None) -> Plan:
    """The slice plan for the metrics ``wanted`` (all when None), cached on the template."""
    plans = template.plans
    cached: Plan | None = plans.get(wanted)
    if cached is not None:
        return cached
    columns = filters.Columns()
    metric_filters: dict[str, dict[str, Any]] = {}
    names: set[str] | None = set()
    event_columns: set[str] = set()
    virtual = template.spec.get("virtual_events", {})
    for name, metric in template.metrics.items():
        if wanted is not None and name not in wanted:
            continue
        # peak_month reads its top list's rows, in the top list's own query.
        if metric["kind"] in ("percentile", "change", "tier", "derived", "label", "peak_month"):
            continue
        flt = filters.resolve(metric, virtual)
        metric_filters[name] = flt
        filters.collect_paths(flt, columns)
        if "property" in metric:
            number = metric["kind"] in NUMBER_PROPERTY_KINDS  # else a label or a value shown as it is
            columns.add(metric["property"], text=not number, number=number)
        if "sum_property" in metric:
            columns.add(metric["sum_property"], number=True)
        filters.collect_paths({"where": metric.get("part", {})}, columns)
        matched = filters.event_names(flt)
        names = None if names is None or matched is None else names | matched
        if filters.reads_type(flt):
            event_columns.add("type")
        if metric["kind"] in ("first", "last"):
            event_columns |= {"eid", "ts"}  # ordered by UTC time, ties by event id
    plan = Plan(columns, metric_filters, sorted(names) if names is not None else None,
                [key for key in EVENT_COLUMNS if key in event_columns])
    plans[wanted] = plan
    return plan


@dataclass(frozen=True)
class Query:
    """A metric's query over the slice (its first column the user's position) and what reads
    its rows, each with the user's id in place of the position."""

    sql: str
    params: list[Any]
    read: Callable[[list[dialect.Row]], None]


def answer(definition: dialect.Statement, queries: list[Query], uids: list[str]) -> None:
    """Run ``queries`` over the slice that ``definition`` (from ``build``) selects, and have each
    read its rows."""
    answers = dialect.over_scratch(TABLE, definition, [(q.sql, q.params) for q in queries])
    for query, rows in zip(queries, answers, strict=True):
        query.read([(uids[row[0]], *row[1:]) for row in rows])


def build(template: StoryTemplate, plan: Plan, app_id: int, actors: Iterable[tuple[str, str]],
          period: Period, with_previous: bool) -> dialect.Statement:
    """The slice's SELECT for ``actors`` — pairs of (actor, uid) — over ``period``, inside a
    ``scope``; ``answer`` runs queries over it.

    Rows carry ``uid`` = the user's position among the distinct uids of ``actors``, in order; each
    actor belongs to one user (users.actor_pairs).
    """
    actors = list(actors)
    first = period.previous() if with_previous else period
    local_start, local_end = first.local_start_ms, period.local_end_ms
    by_user_zone = template.spec.get("timezone", "user") == "user"
    local = "e.timestamp + e.utc_offset * 60000" if by_user_zone else "e.timestamp"
    p = database.param
    # The slice keys users by their position in ``uids``: grouping and sorting on a small integer
    # is about twice as fast as on the id text. ``actor IN (…)`` lets event_by_actor serve every actor
    # (a join against a VALUES list was planned as a slow nested loop). Each row finds its user in
    # a keyed table of the actors: a CASE listing them cost every row a pass over the list, which
    # made a population refresh super-linear (measured in docs/STORIES.md).
    uids = list(dict.fromkeys(uid for _, uid in actors))
    position = {uid: i for i, uid in enumerate(uids)}
    if len(uids) <= 1:
        uid_sql = "0"
    else:
        database.execute_sql(f"CREATE TEMP TABLE {ACTORS} (actor TEXT PRIMARY KEY, uid INTEGER NOT NULL) "
                             f"{dialect.scratch_clause()}")
        for rows in dialect.chunks(actors, per_item=2):
            database.execute_sql(f"INSERT INTO {ACTORS} (actor, uid) VALUES {', '.join([f'({p}, {p})'] * len(rows))}",
                                 [x for actor, uid in rows for x in (actor, position[uid])])
        uid_sql = f"(SELECT a.uid FROM {ACTORS} a WHERE a.actor = e.actor)"
    params: list[Any] = []
    select = [
        f"{uid_sql} AS uid", "e.name AS name", *[EVENT_COLUMNS[key] for key in plan.event_columns],
        f"{local} AS lts", f"({local}) / {DAY_MS} AS day",
        f"CASE WHEN {local} >= {int(period.local_start_ms)} THEN 0 ELSE 1 END AS pp",
        *plan.columns.select_list("e.properties"),
    ]
    where = [f"{local} >= {p}", f"{local} < {p}"]
    if with_previous and first.local_end_ms < period.local_start_ms:
        # A year with a cut-off leaves a gap between the previous period and this one.
        where.append(f"({local} >= {int(period.local_start_ms)} OR {local} < {int(first.local_end_ms)})")
    if actors:
        found, params_tail = event_keys.by_actor("e", app_id, [actor for actor, _ in actors],
                                                    local_start - ZONE_MARGIN_MS, local_end + ZONE_MARGIN_MS)
    else:  # only merged users, who have no events of their own: an empty slice
        found, params_tail = "1 = 0", []
    params_tail += [local_start, local_end]
    if plan.names is not None:
        where.append(f"e.name IN ({', '.join([p] * len(plan.names))})")
        params_tail.extend(plan.names)
    return (f"SELECT {', '.join(select)} FROM event e WHERE {found} AND {' AND '.join(where)}",
            params + params_tail)


@contextmanager
def scope(users: int) -> Iterator[None]:
    """The block a slice of ``users`` users is built and read in (``build`` needs one); it is gone
    when the block ends.

    On PostgreSQL the block is a transaction of its own and the table of a slice's users goes with
    its commit (``dialect.scratch_transaction``): no DROP statements, no wait for the disk; the
    slice of one user makes no table there, and needs no transaction. Anywhere else the tables are
    dropped when the block ends, however it ends.
    """
    with dialect.scratch_transaction(tables=users > 1) as owned:
        if owned:
            yield
            return
        _drop()
        try:
            yield
        finally:
            _drop()


def _drop() -> None:
    database.execute_sql(f"DROP TABLE IF EXISTS {TABLE}")
    database.execute_sql(f"DROP TABLE IF EXISTS {ACTORS}")
