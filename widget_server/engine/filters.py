"""Which events a metric counts: event names, types and property conditions, as SQL over the slice.

Property values are pulled out of the JSON once, when the user's slice is built, into columns:
``p0, p1, …`` for the paths read as text, ``n0, n1, …`` for those read as numbers (a path read
both ways has both); metrics then read plain columns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store import dialect
from ..store.db import database
from .expressions import is_number

OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@dataclass
class Columns:
    """Property paths a template reads, each with the slice columns it is read as: ``p<i>`` as
    text (labels, text conditions), ``n<i>`` as a number (sums, comparisons). A path gets only
    the columns something reads: pulling a JSON number out as text costs PostgreSQL about as much
    as fetching the row."""

    paths: list[str] = field(default_factory=list)
    texts: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)

    def add(self, path: str, *, text: bool = False, number: bool = False) -> None:
        if path not in self.paths:
            self.paths.append(path)
        if text:
            self.texts.add(path)
        if number:
            self.numbers.add(path)

    def text(self, path: str) -> str:
        if path not in self.texts:
            raise KeyError(f"{path!r} is not read as text in this plan")
        return f"p{self.paths.index(path)}"

    def number(self, path: str) -> str:
        if path not in self.numbers:
            raise KeyError(f"{path!r} is not read as a number in this plan")
        return f"n{self.paths.index(path)}"

    def select_list(self, json_column: str) -> list[str]:
        out = []
        for i, path in enumerate(self.paths):
            if path in self.texts:
                out.append(f"{dialect.json_value_sql(json_column, path)} AS p{i}")
            if path in self.numbers:
                out.append(f"{dialect.json_number_sql(json_column, path)} AS n{i}")
        return out


def resolve(metric: dict[str, Any], virtual_events: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A metric's filter with a virtual event name replaced by the conditions it stands for."""
    names = metric.get("events") or ([metric["event"]] if "event" in metric else [])
    virtual = [virtual_events[n] for n in names if n in virtual_events]
    if not virtual:
        return {k: metric[k] for k in ("event", "events", "type", "where") if k in metric}
    if len(names) > 1:
        # Several names, some virtual: each becomes one alternative of an OR.
        return {"any": [resolve({"event": n, "where": metric.get("where", {})}, virtual_events) for n in names]}
    base = dict(virtual[0])
    base.pop("description", None)
    where = dict(base.get("where", {}))
    where.update(metric.get("where", {}))
    base["where"] = where
    return base


def collect_paths(flt: dict[str, Any], columns: Columns) -> None:
    for alternative in flt.get("any", []):
        collect_paths(alternative, columns)
    for path, condition in flt.get("where", {}).items():
        for op, value in _tests(condition):
            columns.add(path, text=not _compares_number(op, value), number=_compares_number(op, value))


def _tests(condition: Any) -> list[tuple[str, Any]]:
    """A where-condition as (operator, value) pairs: a list is ``in``, a bare value ``eq``."""
    if isinstance(condition, list):
        return [("in", condition)]
    if isinstance(condition, dict):
        return list(condition.items())
    return [("eq", condition)]


def _compares_number(op: str, value: Any) -> bool:
    """Whether a test reads its property as a number (the number column) rather than as text."""
    return op in OPERATORS or (op in ("eq", "ne") and is_number(value))


def event_names(flt: dict[str, Any]) -> set[str] | None:
    """The event names a filter can match, or None when it is not limited by name."""
    if "any" in flt:
        found: set[str] = set()
        for alternative in flt["any"]:
            names = event_names(alternative)
            if names is None:
                return None
            found |= names
        return found
    if "events" in flt:
        return set(flt["events"])
    if "event" in flt:
        return {flt["event"]}
    return None


def reads_type(flt: dict[str, Any]) -> bool:
    """Whether a filter tests the event type (so the slice needs that column)."""
    return "type" in flt or any(reads_type(alternative) for alternative in flt.get("any", []))


def to_sql(flt: dict[str, Any], columns: Columns, alias: str = "") -> tuple[str, list[Any]]:
    """(condition, params) for a resolved filter; "1=1" when it matches everything."""
    col = (lambda name: f"{alias}.{name}") if alias else (lambda name: name)
    if "any" in flt:
        parts = [to_sql(alt, columns, alias) for alt in flt["any"]]
        return "(" + " OR ".join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
    clauses: list[str] = []
    params: list[Any] = []
    if "event" in flt:
        clauses.append(f"{col('name')} = {database.param}")
        params.append(flt["event"])
    if "events" in flt:
        clauses.append(f"{col('name')} IN ({', '.join([database.param] * len(flt['events']))})")
        params.extend(flt["events"])
    if "type" in flt:
        clauses.append(f"{col('type')} = {database.param}")
        params.append(flt["type"])
    for path, condition in flt.get("where", {}).items():
        for op, value in _tests(condition):
            column = columns.number(path) if _compares_number(op, value) else columns.text(path)
            sql, args = _test(col(column), op, value)
            clauses.append(sql)
            params.extend(args)
    return ("(" + " AND ".join(clauses) + ")" if clauses else "1=1"), params


def _test(column: str, op: str, value: Any) -> tuple[str, list[Any]]:
    """One test of a property's column: its number column for a numeric comparison, else its text."""
    p = database.param
    if op in OPERATORS:
        return f"{column} {OPERATORS[op]} {p}", [value]
    if op in ("eq", "ne"):
        if isinstance(value, bool):
            sql, args = f"{column} = {p}", [dialect.json_bool_param(value)]
        elif is_number(value):
            sql, args = f"{column} = {p}", [value]
        else:
            sql, args = f"{dialect.text_sql(column)} = {p}", [value]
        return (sql if op == "eq" else f"NOT ({sql})"), args
    if op == "in":
        return _in(column, value if isinstance(value, list) else [value])
    if op == "glob":
        return dialect.glob_sql(dialect.text_sql(column)), [dialect.glob_param(str(value))]
    if op == "contains":
        return dialect.contains_sql(dialect.text_sql(column)), [dialect.contains_param(str(value))]
    return (f"{column} IS NOT NULL" if value else f"{column} IS NULL"), []  # exists


def _in(text_col: str, values: list[Any]) -> tuple[str, list[Any]]:
    marks = ", ".join([database.param] * len(values))
    return f"{dialect.text_sql(text_col)} IN ({marks})", [str(v) for v in values]
