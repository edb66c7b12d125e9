"""Derived metrics that are arithmetic over scalar metrics, so they can be ranked and compared.

A ``percentile`` needs the value of every user of the app and a ``change`` the value of the
period before. A scalar metric is one SQL aggregate for both; a derived metric is a Jinja
expression, which could read anything a story has (a top list, the user's traits). One that
reads only scalar metrics (count, sum, avg, min, max, distinct, share), other such derived
metrics and numbers, joined by ``+ - * / // %``, is computed for the population and for the
previous period from those scalars, by the same ``evaluate`` the story's own value comes from,
so a rank and a change always read the number the story shows.
"""
from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from . import expressions
from .template_schema import SCALAR_KINDS

_BINARY: dict[type[nodes.Node], Callable[[Any, Any], Any]] = {
    nodes.Add: operator.add, nodes.Sub: operator.sub, nodes.Mul: operator.mul, nodes.Div: operator.truediv,
    nodes.FloorDiv: operator.floordiv, nodes.Mod: operator.mod}
_UNARY: dict[type[nodes.Node], Callable[[Any], Any]] = {nodes.Pos: operator.pos, nodes.Neg: operator.neg}
RULE = ("an expression of + - * / // % over numbers and count, sum, avg, min, max, distinct or share "
        "metrics (or derived metrics of that kind)")


@lru_cache(maxsize=4096)  # (a population refresh asks for every user's value: parse each expression once)
def _tree(expr: str) -> nodes.Expr | None:
    """The expression's tree when it is arithmetic over names and numbers, else None (a filter,
    a call, an attribute, a comparison, a string)."""
    try:
        body = expressions.ENV.parse("{{ " + expr + " }}").body
    except TemplateSyntaxError:
        return None
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    root = body[0].nodes[0]
    pending: list[nodes.Node] = [root]
    while pending:
        node = pending.pop()
        if type(node) in _BINARY or type(node) in _UNARY:
            pending.extend(node.iter_child_nodes())
        elif not ((isinstance(node, nodes.Name) and node.ctx == "load")
                  or (isinstance(node, nodes.Const) and expressions.is_number(node.value))):
            return None
    return root


@lru_cache(maxsize=4096)
def names_read(expr: str) -> frozenset[str] | None:
    """The names an arithmetic expression reads, or None when it is more than arithmetic."""
    root = _tree(expr)
    if root is None:
        return None
    return frozenset(node.name for node in [root, *root.find_all(nodes.Name)] if isinstance(node, nodes.Name))


class _NotANumber(Exception):
    pass


def evaluate(expr: str, values: dict[str, Any]) -> Any:
    """An arithmetic expression's value over numbers in ``values``; None when a name it reads is
    missing or not a number, or the arithmetic fails (a division by zero). Python's operators, as
    Jinja applies them, without a Jinja context per call (a tenth of the cost, for a whole
    population). Only for expressions ``names_read`` accepts."""
    root = _tree(expr)
    if root is None:
        raise ValueError(f"not arithmetic: {expr!r}")

    def run(node: nodes.Node) -> Any:
        if isinstance(node, nodes.Name):
            found = values.get(node.name)
            if not expressions.is_number(found):
                raise _NotANumber
            return found
        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.BinExpr):
            return _BINARY[type(node)](run(node.left), run(node.right))
        assert isinstance(node, nodes.UnaryExpr)
        return _UNARY[type(node)](run(node.node))

    try:
        return run(root)
    except (_NotANumber, ArithmeticError):
        return None


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


@dataclass(frozen=True)
class Formula:
    """How a metric's value comes from scalar values: the derived metrics it goes through, in the
    template's order, each with its expression (none for a scalar metric itself)."""

    name: str
    steps: tuple[tuple[str, str], ...]

    def value(self, scalars: dict[str, Any]) -> Any:
        """The value from the scalars' values (None when the arithmetic fails: a division by zero,
        an average of no events)."""
        if not self.steps:
            return scalars.get(self.name)
        context = dict(scalars)
        for derived, expr in self.steps:
            context[derived] = evaluate(expr, context)
        return context[self.name]


def formula(metrics: dict[str, dict[str, Any]], name: str) -> Formula:
    """The formula of a metric ``scalar_inputs`` accepts (a scalar, or arithmetic over scalars)."""
    wanted: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in wanted or metrics.get(current, {}).get("kind") != "derived":
            continue
        wanted.add(current)
        pending.extend(names_read(metrics[current]["expr"]) or ())
    return Formula(name, tuple((n, metrics[n]["expr"]) for n in metrics if n in wanted))
