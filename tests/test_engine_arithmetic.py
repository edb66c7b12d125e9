"""Derived metrics that are arithmetic over scalars (engine/arithmetic.py): what counts as such,
and their value, which is the one Jinja gives the same expression (a story's own derived value,
a rank and a change all read it)."""
from __future__ import annotations

import pytest

from widget_server.engine import arithmetic
from widget_server.engine.expressions import ExpressionFailed
from widget_server.engine.expressions import evaluate as jinja

VALUES = {"deposited": 1250.5, "withdrawn": 300, "plays": 7, "zero": 0, "avg": None, "big": 10**18}


@pytest.mark.parametrize("expr", [
    "deposited - withdrawn", "plays", "-(deposited - withdrawn) * 2 + plays // 3 % 2", "+plays / 2",
    "(deposited - withdrawn) / plays", "plays // 2", "plays % 4", "big * big", "deposited / zero", "plays % zero",
    "avg * 2", "missing + 1", "1 + 2", "withdrawn / 7 * 7",
])
def test_arithmetic_gives_what_jinja_gives(expr):
    assert arithmetic.names_read(expr) is not None
    try:
        expected = jinja(expr, VALUES)
    except ExpressionFailed:
        expected = None  # (a derived metric that fails is none)
    assert arithmetic.evaluate(expr, VALUES) == expected


@pytest.mark.parametrize("expr", [
    "plays | round", "plays > 1", "plays ** 2", "'a' ~ plays", "user.traits.age", "top[0].value",
    "plays if plays else 0", "max(plays, 1)", "plays + 'x'", "plays + true", "plays or 0", "[plays][0]",
])
def test_anything_more_than_arithmetic_is_not(expr):
    assert arithmetic.names_read(expr) is None


def test_a_formula_goes_through_the_derived_metrics_it_reads_in_order():
    metrics = {"saved": {"kind": "derived", "expr": "deposited - withdrawn"},
               "deposited": {"kind": "sum"}, "withdrawn": {"kind": "sum"},
               "per_play": {"kind": "derived", "expr": "saved / plays"}, "plays": {"kind": "count"}}
    assert arithmetic.scalar_inputs(metrics, "per_play") == {"deposited", "withdrawn", "plays"}
    assert arithmetic.formula(metrics, "per_play").value({"deposited": 30, "withdrawn": 6, "plays": 4}) == 6
    assert arithmetic.formula(metrics, "plays").value({"plays": 4}) == 4
    backwards = {"a": {"kind": "derived", "expr": "b + 1"}, "b": {"kind": "derived", "expr": "a + 1"}}
    assert arithmetic.scalar_inputs(backwards, "b") is None  # (a derived metric reads only earlier ones)
