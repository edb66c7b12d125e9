"""Dates as people read them in a story ("1 March", not "2026-03-01"), through Babel's CLDR data.

The locale is decided here and nowhere else, so that stories in other languages change one place.
Formats are CLDR skeletons, not fixed patterns: each locale orders and spells them its own way.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any, Literal

from babel.dates import format_date, format_skeleton, get_day_names, get_month_names

# English, with the day before the month, as the engine's other dates ("1 January – 15 November").
LOCALE = "en_GB"

# format name → (within the story's year, in another year): a CLDR skeleton, or for the month
# alone CLDR's stand-alone month pattern (Babel matches the skeleton "MMMM" to the short "MMM").
FORMATS = {
    "long": ("MMMMd", "yMMMMd"),  # 1 March, 1 March 2025
    "short": ("MMMd", "yMMMd"),   # 1 Mar, 1 Mar 2025
    "month": ("LLLL", "yMMMM"),   # March, March 2025
}
PATTERNS = {"LLLL"}


class NotADate(ValueError):
    """A value the date filter cannot read as a day or a month."""


def as_date(value: Any) -> date:
    """A date from what metrics give: ``date``, ISO day ``2026-03-01``, a local time
    ``2026-03-01T10:00:00``, or a month ``2026-03`` (its first day)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 7:
                return date.fromisoformat(text + "-01")
            return datetime.fromisoformat(text).date() if "T" in text else date.fromisoformat(text)
        except ValueError:
            pass
    raise NotADate(f"not a date: {str(value)[:40]!r}")


def human(value: Any, fmt: str = "long", year: int | None = None) -> str:
    """``value`` in format ``fmt``, with its year only when it is not ``year`` (the story's)."""
    if fmt not in FORMATS:
        raise NotADate(f"no date format {fmt!r}; use one of {', '.join(FORMATS)}")
    day = as_date(value)
    same_year, other_year = FORMATS[fmt]
    chosen = same_year if day.year == year else other_year
    if chosen in PATTERNS:
        return str(format_date(day, chosen, locale=LOCALE))
    return str(format_skeleton(chosen, day, locale=LOCALE))


def weekday(day: date) -> str:
    """The day's name: 'Tuesday'."""
    return str(format_date(day, "EEEE", locale=LOCALE))


Width = Literal["wide", "abbreviated"]


@cache
def month_names(width: Width = "wide") -> tuple[str, ...]:
    """January … December ("wide") or Jan … Dec ("abbreviated", for charts), as a month is named alone."""
    names = get_month_names(width, context="stand-alone", locale=LOCALE)
    return tuple(str(names[m]) for m in range(1, 13))


@cache
def weekday_names(width: Width = "wide") -> tuple[str, ...]:
    """Monday … Sunday ("wide") or Mon … Sun ("abbreviated"), Monday first as ISO weeks are."""
    names = get_day_names(width, context="stand-alone", locale=LOCALE)
    return tuple(str(names[d]) for d in range(7))


def hour_name(hour: int) -> str:
    """An hour of the day as the locale writes a time: '22:00'."""
    return str(format_skeleton("Hm", datetime(2001, 1, 1, hour), locale=LOCALE))
