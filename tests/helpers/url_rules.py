"""Werkzeug's URL rules compiled once per session instead of once per app.

Each rule werkzeug adds to an app's map gets two URL builders, Python functions it generates
from the rule (an AST, then ``compile``): ~20 ms of the ~30 ms ``create_app`` costs, for the
same rules in every test. A builder is a pure function of the rule's text, its parsed parts
and ``append_unknown`` (the rule object it is bound to comes in as an argument), so the
functions are kept by those and reused; a rule with defaults is compiled as werkzeug does
(its defaults are folded into the code through the rule's converters).
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
from werkzeug.routing.rules import Rule


def compiled_once() -> Any:
    """A ``pytest.MonkeyPatch`` that keeps each builder ``Rule._compile_builder`` makes; undo it
    to go back to werkzeug's own."""
    original = Rule._compile_builder
    built: dict[tuple, Callable[..., tuple[str, str]]] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        if self.defaults:
            return original(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in built:
            built[key] = original(self, append_unknown)
        return built[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(Rule, "_compile_builder", compile_builder)
    return patch
