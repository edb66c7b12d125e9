"""Derived metrics that are arithmetic over scalar metrics, so they can be ranked and compared.

A ``percentile`` needs the value of every user of the app and a ``change`` the value of the
period before. A scalar metric is one SQL aggregate for both; a derived metric is a Jinja
expression, which could read anything a story has (a top list, the user's traits). One that
reads only scalar metrics (count, sum, avg, min, max, distinct, share), other such derived
metrics and numbers, joined by ``+ - * / // %``, is computed for the population and for the
previous period from those scalars, by the same expression a story evaluates, so a rank and
a change always read the value the story shows.
"""
from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from . import expressions
from .template_schema import SCALAR_KINDS

_OPERATORS = (nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pos, nodes.Neg)
RULE = ("an expression of + - * / // % over numbers and count, sum, avg, min, max, distinct or share "
        "metrics (or derived metrics of that kind)")


def names_read(expr: str) -> frozenset[str] | None:
    """The names an arithmetic expression reads, or None when it is anything more than arithmetic
    over names and numbers (a filter, a call, an attribute, a comparison, a string)."""
    try:
        body = expressions.ENV.parse("{{ " + expr + " }}").body
    except TemplateSyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    found: set[str] = set()
    pending: list[nodes.Node] = [body[0].nodes[0]]
    while pending:
        node = pending.pop()
        if isinstance(node, nodes.Name) and node.ctx == "load":
            found.add(node.name)
        elif isinstance(node, nodes.Const) and expressions.is_number(node.value):
            continue
        elif isinstance(node, _OPERATORS):
            pending.extend(node.iter_child_nodes())
        else:
            return None
    return frozenset(found)


def scalar_inputs(metrics: dict[str, dict[str, Any]], name: str) -> frozenset[str] | None:
    """The scalar metrics a metric is computed from: itself when it is one, those its arithmetic
    derived expression reads (through other such derived metrics); None when it has none such."""
    metric = metrics.get(name)
    if metric is None:
        return None
    if metric["kind"] in SCALAR_KINDS:
        return frozenset({name})
    if metric["kind"] != "derived":
        return None
    read = names_read(metric["expr"])
    if read is None:
        return None
    order = list(metrics)
    found: set[str] = set()
    for other in read:
        # A derived metric it reads comes before it, as for every derived metric (no cycles).
        known = other in metrics and (metrics[other]["kind"] in SCALAR_KINDS or order.index(other) < order.index(name))
        inputs = scalar_inputs(metrics, other) if known else None
        if inputs is None:
            return None
        found |= inputs
    return frozenset(found)


def derived_chain(metrics: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The derived metrics ``name`` is computed through, itself last, in the template's order."""
    wanted: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in wanted or metrics.get(current, {}).get("kind") != "derived":
            continue
        wanted.add(current)
        pending.extend(names_read(metrics[current]["expr"]) or ())
    return [n for n in metrics if n in wanted]


def value(metrics: dict[str, dict[str, Any]], name: str, scalars: dict[str, Any]) -> Any:
    """The metric's value from its scalar inputs' values (None when the arithmetic fails: a
    division by zero, an average of no events)."""
    if metrics[name]["kind"] in SCALAR_KINDS:
        return scalars.get(name)
    context = dict(scalars)
    for derived in derived_chain(metrics, name):
        try:
            context[derived] = expressions.evaluate(metrics[derived]["expr"], context)
        except expressions.ExpressionFailed:
            return None
    return context[name]
