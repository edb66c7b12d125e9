"""Template text and conditions, evaluated in Jinja2's immutable sandbox.

Text is rendered with autoescaping on, then turned back into plain text: the story JSON carries
plain strings and every consumer inserts them as text, so ``<img onerror=…>`` in an event
property shows up as those characters and is never markup. Anything unsafe (``''.__class__``),
undefined or failing raises ExpressionFailed, and the frame using it is skipped or falls back.
"""
from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateError, Undefined, meta, pass_context
from jinja2.runtime import new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from . import dates, locales, numbers


class ExpressionFailed(Exception):
    """A template expression could not be evaluated for this user (missing data, unsafe access)."""


def is_number(value: Any) -> bool:
    """An int or float, not a bool: what a tier, a rule's ``min`` or a comparison can use."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> float:
    """A number to format: a number, or a text of one (an event property sent as "12.5")."""
    if value is None or isinstance(value, bool):
        raise ExpressionFailed("not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ExpressionFailed("not a number") from None
    if not math.isfinite(number):
        raise ExpressionFailed("not a finite number")
    return number


def _digits(digits: Any) -> int:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= MAX_DIGITS:
        raise ExpressionFailed(f"digits must be 0 to {MAX_DIGITS}")
    return digits


MAX_DIGITS = 6


def number(value: Any, digits: int = 0) -> str:
    """12345.6 → '12,346' in English, '12.346' in German; digits > 0 keeps that many decimals."""
    return numbers.decimal(_finite(value), _digits(digits))


def percent(value: Any, digits: int = 0) -> str:
    """0.423 → '42%' in English, '42 %' in German, '%42' in Turkish."""
    return numbers.percent(_finite(value), _digits(digits))


def compact(value: Any, digits: int = 0) -> str:
    """12345 → '12K' in English, '1万' in Japanese."""
    return numbers.compact(_finite(value), _digits(digits))


def currency(value: Any, code: Any = "") -> str:
    """``currency('EUR')``: 12.5 → '€12.50' in English, '12,50 €' in German."""
    if not isinstance(code, str) or not code:
        raise ExpressionFailed("currency needs an ISO 4217 code, e.g. currency('EUR')")
    try:
        return numbers.money(_finite(value), code)
    except numbers.NotANumber as exc:
        raise ExpressionFailed(str(exc)) from None


def hours(ms: Any) -> str:
    return number(_finite(ms) / 3_600_000)


DURATION_STYLES = ("clock", "units")


def duration(value: Any, style: str = "clock", unit: str = "s") -> str:
    """A duration, in seconds (``unit='ms'``: milliseconds), to the nearest second: ``clock``
    362 → '6:02', 3900 → '1:05:00' (a pace, a lap); ``units``, in the story's locale, 3900 →
    '1 hr 5 mins', 362 → '6 mins 2 secs', 45 → '45 secs' (a total: at most two units, hours to the
    nearest minute)."""
    if style not in DURATION_STYLES or unit not in ("s", "ms"):
        raise ExpressionFailed(f"duration takes style {' or '.join(DURATION_STYLES)} and unit s or ms")
    if not is_number(value) or not math.isfinite(value) or value < 0:
        raise ExpressionFailed("duration needs a number of seconds, 0 or more")
    total = math.floor((value / 1000 if unit == "ms" else value) + 0.5)  # (round() would make 2.5 s 2 s)
    h, m, sec = total // 3600, total % 3600 // 60, total % 60
    if style == "clock":
        return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
    if h:
        minutes = (total + 30) // 60  # to the nearest minute
        return numbers.units(minutes // 60, minutes % 60, 0)
    return numbers.units(0, m, sec)


PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


def plural(count: Any, singular: str | None = None, others: str | None = None, /, **forms: str) -> str:
    """The word for ``count`` by CLDR's plural rules in the story's locale. English-style:
    ``plural('play')`` → 'play' / 'plays', ``plural('child', 'children')``. Any language:
    ``plural(one='plik', few='pliki', many='plików', other='pliku')``, one word per category the
    language has (Polish and Arabic have more than two); ``other`` is used for a category not given."""
    if not is_number(count):
        raise ExpressionFailed("plural needs a number")
    unknown = set(forms) - set(PLURAL_CATEGORIES)
    if unknown:
        raise ExpressionFailed(f"plural has no category {sorted(unknown)[0]!r}; "
                               f"CLDR's are {', '.join(PLURAL_CATEGORIES)}")
    category = numbers.plural_category(count)
    if forms:
        chosen = forms.get(category, forms.get("other", others or singular))
        if chosen is None:
            raise ExpressionFailed(f"plural has no word for the category {category!r} nor 'other'")
        return chosen
    if singular is None:
        raise ExpressionFailed("plural needs a word")
    return singular if category == "one" else (others or singular + "s")


def first_name(name: Any) -> str:
    return str(name or "").strip().split(" ")[0]


@pass_context
def date(context: Any, value: Any, fmt: str = "long") -> str:
    """'2026-03-01' → '1 March' (formats in engine/dates.py); the year is shown only when it is
    not the year the story's period ends in."""
    try:
        return dates.human(value, fmt, _story_year(context))
    except dates.NotADate as exc:
        raise ExpressionFailed(str(exc)) from None


@pass_context
def date_range(context: Any, start: Any, end: Any, fmt: str = "short") -> str:
    """``streak.start | date_range(streak.end)`` → '1–5 Mar' (en), '1.–5. März' (de): CLDR's
    interval of the two days (formats 'short' and 'month'), the year as ``date`` shows it."""
    try:
        return dates.interval(start, end, fmt, _story_year(context))
    except dates.NotADate as exc:
        raise ExpressionFailed(str(exc)) from None


def _story_year(context: Any) -> int | None:
    """The year the story's period ends in: dates in it are shown without their year."""
    period = context.get("period")
    if isinstance(period, dict) and isinstance(period.get("end"), str):
        return dates.as_date(period["end"]).year
    return None


MAX_EXPONENT = 256  # ``x ** y``: enough for any story's arithmetic, not for a billion-digit number
MAX_REPEAT = 10_000  # ``"ab" * n``, ``[x] * n``: at most this many characters or items


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with work bounded: Jinja already bounds ``range``; this bounds the
    operators that could make a huge number or a huge string or list out of a short expression."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise ExpressionFailed(f"an exponent over {MAX_EXPONENT}")
            return left ** right
        for sequence, times in ((left, right), (right, left)):
            if (isinstance(sequence, (str, list, tuple)) and isinstance(times, int)
                    and len(sequence) * times > MAX_REPEAT):
                raise ExpressionFailed(f"a repetition longer than {MAX_REPEAT}")
        return left * right


def _shown(value: Any) -> Any:
    """What ``{{ … }}`` prints: a missing value fails the text (its frame falls back or is
    skipped) rather than showing the word "None"."""
    if value is None:
        raise ExpressionFailed("a value is missing")
    return value


def _per_story(func: Callable[..., str]) -> Callable[..., str]:
    """A filter whose answer depends on the story's locale, as a filter Jinja never runs at compile
    time: it would fold ``{{ 5 | plural(…) }}`` once, in whichever locale the text was first
    compiled for (a filter taking the context is never folded)."""
    @pass_context
    @functools.wraps(func)
    def run(context: Any, *args: Any, **kwargs: Any) -> str:
        return func(*args, **kwargs)
    return run


# Recap's own filters (``urlencode`` replaces Jinja's, which leaves '/' and '&' in place).
RECAP_FILTERS: dict[str, Any] = {
    **{f.__name__: _per_story(f) for f in (number, percent, compact, currency, hours, plural, duration)},
    "date": date, "date_range": date_range, "first_name": first_name,
    "urlencode": lambda v: quote(str(v), safe="")}
# Jinja built-ins a story has no use for and that would do harm: ``random`` gives another text
# on every load (a story reads the same for its user each time, and its built copy the same as
# one assembled on demand); the others make a string as long as a number the text names
# (``'x' | center(10**9)``, ``'%09999999d' | format(1)``, ``lipsum(10**6)``), past MAX_REPEAT.
LEFT_OUT_FILTERS = ("center", "format", "indent", "random")
LEFT_OUT_GLOBALS = ("lipsum",)


def _env() -> ImmutableSandboxedEnvironment:
    env = _Sandbox(autoescape=True, undefined=StrictUndefined, finalize=_shown)
    for name in LEFT_OUT_FILTERS:
        del env.filters[name]
    for name in LEFT_OUT_GLOBALS:
        del env.globals[name]
    env.filters.update(RECAP_FILTERS)
    # Names in every story's scope; story_globals gives them in the story's locale.
    env.globals.update(MONTHS=dates.month_names(), WEEKDAYS=dates.weekday_names(), locale=locales.DEFAULT)
    return env


ENV = _env()


@lru_cache(maxsize=4096)
def compile_text(source: str) -> Any:
    return ENV.from_string(source)


@lru_cache(maxsize=4096)
def compile_condition(source: str) -> Any:
    return ENV.compile_expression(source, undefined_to_none=False)


def variables(source: str) -> set[str]:
    """Top-level names a template text reads (for working out which metrics it needs)."""
    try:
        return set(meta.find_undeclared_variables(ENV.parse(source)))
    except TemplateError:
        return set()


def render(source: str, context: dict[str, Any]) -> str:
    """Render text; the autoescaped result is unescaped back into plain text for JSON.

    ``context`` must already hold the globals (see ``story_globals``): it is handed to Jinja as
    is (``shared=True``) instead of being copied for every field, which is most of a render's cost.
    """
    if "{" not in source:
        return source.strip()  # literal text: nothing to evaluate
    try:
        template = compile_text(source)
        # Without globals: the story context already carries them, and Jinja would otherwise
        # rebuild its globals set for every field.
        frame = new_context(ENV, template.name, template.blocks, context, True, None, None)
        out = ENV.concat(template.root_render_func(frame))
        return Markup(out).unescape().strip()
    except (TemplateError, ExpressionFailed, ArithmeticError, TypeError, ValueError, KeyError,
            AttributeError, IndexError) as exc:
        raise ExpressionFailed(f"{type(exc).__name__}: {exc}") from None


def story_globals() -> dict[str, Any]:
    """Names every template may use besides the metrics, in the locale of the story being made:
    ``MONTHS[3]`` is "April" in English, "avril" in French; ``locale`` is its tag ('pt-BR')."""
    # Jinja's own (the sandbox's bounded range, dict, …) and ours
    return {**ENV.globals, "MONTHS": dates.month_names(), "WEEKDAYS": dates.weekday_names(),
            "locale": locales.current()}


def evaluate(source: str, context: dict[str, Any]) -> Any:
    try:
        value = compile_condition(source)(**context)
        if isinstance(value, Undefined):
            raise ExpressionFailed("undefined")
        return value
    except (TemplateError, ExpressionFailed, ArithmeticError, TypeError, ValueError, KeyError,
            AttributeError, IndexError) as exc:
        raise ExpressionFailed(f"{type(exc).__name__}: {exc}") from None


def truthy(source: str, context: dict[str, Any]) -> bool:
    """A condition; one that cannot be evaluated (missing data) counts as false."""
    try:
        return bool(evaluate(source, context))
    except ExpressionFailed:
        return False


def pick_variant(value: str | list[str], seed: str) -> str:
    """One of a field's wording variants, the same one for the same user on every load."""
    if isinstance(value, str):
        return value
    digest = hashlib.sha256(seed.encode()).digest()
    return value[int.from_bytes(digest[:4], "big") % len(value)]
