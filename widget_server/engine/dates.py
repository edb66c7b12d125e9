"""Dates as people read them in a story ("1 March", not "2026-03-01"), through Babel's CLDR data.

Every date is in the locale of the story being made (``locales.current()``, decided in
engine/locales.py and nowhere else). Formats are CLDR skeletons, not fixed patterns: each locale
orders and spells them its own way.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any, Literal

from babel.dates import format_date, format_interval, format_skeleton, get_day_names, get_month_names

from .locales import babel, current, native_digits

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
    tag = current()
    if chosen in PATTERNS:
        return native_digits(str(format_date(day, chosen, locale=babel(tag))), tag)
    return native_digits(str(format_skeleton(chosen, day, locale=babel(tag))), tag)


# CLDR has interval formats down to the abbreviated month: (within the story's year, across years)
INTERVALS = {"short": ("MMMd", "yMMMd"), "month": ("MMMM", "yMMMM")}


def interval(start: Any, end: Any, fmt: str = "short", year: int | None = None) -> str:
    """Two days as one range the locale's way: '1–5 Mar', '28 Dec 2025 – 3 Jan 2026' (en-GB),
    '2026年1月1日～11月15日' (ja); with the year when either day is not in ``year``."""
    if fmt not in INTERVALS:
        raise NotADate(f"no date range format {fmt!r}; use one of {', '.join(INTERVALS)}")
    first, last = as_date(start), as_date(end)
    same_year, other_year = INTERVALS[fmt]
    chosen = same_year if first.year == last.year == year else other_year
    tag = current()
    return native_digits(str(format_interval(first, last, chosen, locale=babel(tag))), tag)


def weekday(day: date) -> str:
    """The day's name: 'Tuesday'."""
    return str(format_date(day, "EEEE", locale=babel(current())))


Width = Literal["wide", "abbreviated"]


def month_names(width: Width = "wide") -> tuple[str, ...]:
    """January … December ("wide") or Jan … Dec ("abbreviated", for charts), as a month is named alone."""
    return _month_names(width, current())


def weekday_names(width: Width = "wide") -> tuple[str, ...]:
    """Monday … Sunday ("wide") or Mon … Sun ("abbreviated"), Monday first as ISO weeks are."""
    return _weekday_names(width, current())


def first_weekday() -> int:
    """The day a week starts on where the story's locale is spoken (0 Monday … 6 Sunday), CLDR's."""
    return int(babel(current()).first_week_day)


def hour_name(hour: int) -> str:
    """An hour of the day as the locale writes a time: '22:00'."""
    return _hour_names(current())[hour]


@cache
def _month_names(width: Width, tag: str) -> tuple[str, ...]:
    names = get_month_names(width, context="stand-alone", locale=babel(tag))
    return tuple(str(names[m]) for m in range(1, 13))


@cache
def _weekday_names(width: Width, tag: str) -> tuple[str, ...]:
    names = get_day_names(width, context="stand-alone", locale=babel(tag))
    return tuple(str(names[d]) for d in range(7))


@cache
def _hour_names(tag: str) -> tuple[str, ...]:
    return tuple(native_digits(str(format_skeleton("Hm", datetime(2001, 1, 1, h), locale=babel(tag))), tag)
                 for h in range(24))
