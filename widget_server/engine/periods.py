"""Story periods: which local calendar days a story covers, and the period before it.

Periods are sets of local dates. An event belongs to a day by its local time, which is
``timestamp + utc_offset * 60000`` (the offset recorded at ingest for the user's zone), so a
user in Tokyo and a user in Los Angeles each get their own midnight.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from . import dates, locales
from .story_shape import StoryPeriod

DAY_MS = 86_400_000
# The widest UTC offsets in use (+14:00, -12:00): a UTC range this much wider than the local
# range holds every event of every zone, so the index range scan can stay on ``timestamp``.
ZONE_MARGIN_MS = 14 * 3_600_000


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: date  # first day, inclusive
    end: date  # last day, inclusive
    kind: str
    spec: tuple[Any, ...] = ()

    @property
    def local_start_ms(self) -> int:
        return day_number(self.start) * DAY_MS

    @property
    def local_end_ms(self) -> int:
        """Exclusive end, as local epoch milliseconds."""
        return (day_number(self.end) + 1) * DAY_MS

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        if self.kind == "year":
            start = _safe_replace(self.start, self.start.year - 1)
            end = _safe_replace(self.end, self.end.year - 1)
            return Period(str(start.year), str(start.year), start, end, "year", self.spec)
        if self.kind == "month":
            end = self.start - timedelta(days=1)
            return month_period(end.year, end.month)
        end = self.start - timedelta(days=1)
        start = end - timedelta(days=self.days - 1)
        return Period(f"d{self.days}:{end.isoformat()}", f"The {self.days} days before", start, end,
                      "last_days", self.spec)

    def as_json(self) -> StoryPeriod:
        # A month is named in the story's locale ("März"), as it is shown, not as it was resolved;
        # a year is written in its digits ("٢٠٢٦" in Egypt).
        label = (dates.human(self.start, "month") if self.kind == "month"
                 else locales.native_digits(self.label, locales.current()))
        return {"label": label, "start": self.start.isoformat(), "end": self.end.isoformat()}

    @property
    def span(self) -> str:
        """The days covered, as people read them: '1 January – 15 November 2026'."""
        end = dates.human(self.end, "long")
        if self.start == self.end:
            return end
        return f"{dates.human(self.start, 'long', self.end.year)} – {end}"


def day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def day_from_number(number: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(number))


def _safe_replace(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)


def month_period(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    start = date(year, month, 1)
    return Period(f"{year}-{month:02d}", dates.human(start, "month"), start, date(year, month, last), "month")


def resolve(spec: dict[str, Any], now: datetime | None = None, utc_offset: int = 0) -> Period:
    """The period a template's ``[period]`` table names, as seen at ``now`` by someone whose
    clock is ``utc_offset`` minutes ahead of UTC (their "today" decides the period)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    today = now.astimezone(timezone(timedelta(minutes=utc_offset))).date()
    kind = spec["kind"]
    if kind == "year":
        month, day = (int(part) for part in spec.get("cutoff", "12-31").split("-"))
        year = spec.get("year")
        if year is None:
            # Like Wrapped: the year's story appears once its cut-off day has passed.
            year = today.year if today >= date(today.year, month, day) else today.year - 1
        start = date(year, 1, 1)
        end = _safe_replace(date(2000, month, day), year)
        return Period(str(year), str(year), start, end, "year", (month, day))
    if kind == "month":
        first = today.replace(day=1)
        if not spec.get("current", False):
            first = (first - timedelta(days=1)).replace(day=1)
        return month_period(first.year, first.month)
    days = int(spec["days"])
    start = today - timedelta(days=days - 1)
    return Period(f"d{days}:{today.isoformat()}", f"Your last {days} days", start, today, "last_days")
