"""Numbers as people read them in the story's locale, by Babel's CLDR data: decimals ("12,345",
"12.345", "12 345"), percentages ("42 %", "%42"), compact numbers ("12K", "1万"), amounts of
money, durations in units ("1 hr 5 mins") and plural categories ("few" in Polish and Arabic).

Every function reads the locale of the story being made (``locales.current()``). Numbers use
the symbols and digits of the locale's default numbering system (Arabic in Egypt: "١٢٬٣٤٥").
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Literal

from babel import Locale
from babel.numbers import NumberPattern, format_compact_decimal, format_currency, is_currency, parse_pattern
from babel.units import format_unit

from .locales import babel, current, native_digits

NUMBERING = "default"  # the locale's own numbering system's symbols, not always Latin ones


class NotANumber(ValueError):
    """What cannot be formatted: an unknown currency code, say."""


@cache
def _pattern(tag: str, kind: Literal["decimal", "percent"], digits: int) -> NumberPattern:
    loc = babel(tag)
    formats = loc.decimal_formats if kind == "decimal" else loc.percent_formats
    pattern = copy.copy(parse_pattern(formats[None]))
    pattern.frac_prec = (digits, digits)
    return pattern


def decimal(value: float, digits: int = 0) -> str:
    """12345.6 → '12,346' (en), '12.346' (de); ``digits`` decimals, exactly."""
    tag = current()
    group = _plain_group(tag)
    if group is not None and digits == 0 and value >= 0:
        # What Babel writes for these locales, at a tenth of its cost (a story shows dozens).
        return native_digits(f"{round(value):,}".replace(",", group), tag)
    return native_digits(str(_pattern(tag, "decimal", digits).apply(Decimal(repr(value)), babel(tag),
                                                                   numbering_system=NUMBERING)), tag)


@cache
def _plain_group(tag: str) -> str | None:
    """The group separator of a locale that writes whole numbers as '#,##0' does (groups of
    three, nothing around them), or None for the others (Indian grouping, say), left to Babel.
    tests/test_story_languages.py holds the two ways to the same answers."""
    loc = babel(tag)
    pattern = parse_pattern(loc.decimal_formats[None])
    if pattern.grouping != (3, 3) or pattern.prefix[0] or pattern.suffix[0]:  # (the positive ones)
        return None
    group = str(loc.number_symbols[loc.default_numbering_system]["group"])
    # and only where Babel agrees, millions included (its de-CH stops grouping there)
    whole = _pattern(tag, "decimal", 0)
    for probe in (1234, 1234567, 1234567890):
        if str(whole.apply(Decimal(probe), loc, numbering_system=NUMBERING)) != f"{probe:,}".replace(",", group):
            return None
    return group


def percent(value: float, digits: int = 0) -> str:
    """0.423 → '42%' (en), '42 %' (de), '%42' (tr)."""
    tag = current()
    return native_digits(str(_pattern(tag, "percent", digits).apply(Decimal(repr(value)), babel(tag),
                                                                   numbering_system=NUMBERING)), tag)


def compact(value: float, digits: int = 0) -> str:
    """12345 → '12K' (en), '1万' (ja), '12 ألف' (ar): CLDR's short form; a number the locale
    does not shorten (German thousands: '12.346') as ``decimal`` writes it."""
    tag = current()
    loc = babel(tag)
    magnitude = str(10 ** (len(str(int(abs(value)))) - 1))
    pattern = loc.compact_decimal_formats["short"]["other"].get(magnitude)
    if pattern is None or set(pattern.pattern) <= {"0"}:
        return decimal(value, digits)
    return native_digits(str(format_compact_decimal(value, format_type="short", fraction_digits=digits, locale=loc,
                                                    numbering_system=NUMBERING)), tag)


def money(value: float, code: str) -> str:
    """12.5, 'EUR' → '€12.50' (en), '12,50 €' (de); an ISO 4217 code."""
    if not is_currency(code.upper()):
        raise NotANumber(f"{code[:10]!r} is not a currency code such as 'EUR'")
    tag = current()
    return native_digits(str(format_currency(value, code.upper(), locale=babel(tag), numbering_system=NUMBERING)),
                         tag)


def units(hours: int, minutes: int, seconds: int) -> str:
    """A total in CLDR's short units, joined as the locale joins units: '1 hr 5 mins', '6 mins
    2 secs', '2 hrs' (en-GB); '1 Std., 5 Min.' (de). Units that are 0 are left out (0 s: '0 secs')."""
    tag = current()
    loc = babel(tag)
    parts = [(n, unit) for n, unit in ((hours, "duration-hour"), (minutes, "duration-minute"),
                                       (seconds, "duration-second")) if n] or [(0, "duration-second")]
    shown = [str(format_unit(n, unit, length="short", locale=loc)) for n, unit in parts]
    return native_digits(shown[0] if len(shown) == 1 else _two(loc, shown[0], shown[1]), tag)


def _two(loc: Locale, first: str, second: str) -> str:
    """Two units as CLDR joins them ("1 hr 5 mins", "1 س و5 د"). Babel's list_patterns for a
    locale hold only what it has of its own (German has no narrow unit list; Arabic's has no
    pattern for two), so the two-item pattern is looked for as CLDR inherits it: narrow, then short."""
    for style in ("unit-narrow", "unit-short", "standard"):
        patterns = loc.list_patterns.get(style) or {}
        pattern = patterns.get("2") or patterns.get("end")
        if pattern:
            return str(pattern).format(first, second)
    return f"{first} {second}"


def plural_category(count: float) -> str:
    """CLDR's plural category of ``count`` in the story's locale: 'one', 'few', 'many', 'other', …"""
    return str(_plural_rule(current())(count))


@cache
def _plural_rule(tag: str) -> Callable[[float], str]:
    rule: Callable[[float], str] = babel(tag).plural_form
    return rule
