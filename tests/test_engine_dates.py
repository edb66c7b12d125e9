"""The ``date`` filter: days as people read them, the year only when it is not the story's; and
every other name of a day, month or hour, from the same locale."""
from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from widget_server.engine import dates
from widget_server.engine.expressions import ExpressionFailed, render, story_globals
from widget_server.engine.periods import month_period, resolve

PERIOD = {"label": "2026", "start": "2026-01-01", "end": "2026-11-15"}


def shown(text: str, **values) -> str:
    return render(text, {**story_globals(), "period": PERIOD, **values})


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    ("2026-03-01", None, "1 March"),
    ("2026-03-01", "long", "1 March"),
    ("2026-03-01", "short", "1 Mar"),
    ("2026-03", "month", "March"),
    ("2026-03-01", "month", "March"),
    ("2026-08-26T23:59:00", None, "26 August"),  # a first/last event's local time
    ("2025-12-30", None, "30 December 2025"),  # another year than the story's: said
    ("2025-12-30", "short", "30 Dec 2025"),
    ("2025-12", "month", "December 2025"),
])
def test_dates_read_as_english_with_a_year_only_when_it_differs(value, fmt, expected):
    call = "d | date" if fmt is None else f"d | date('{fmt}')"
    assert shown("{{ " + call + " }}", d=value) == expected


def test_a_streak_across_new_year_names_both_years_only_where_needed():
    streak = {"start": "2025-12-28", "end": "2026-01-04"}
    assert (shown("From {{ s.start | date }} to {{ s.end | date }}.", s=streak)
            == "From 28 December 2025 to 4 January.")


@pytest.mark.parametrize("text", ["{{ 5 | date }}", "{{ 'soon' | date }}", "{{ '2026-13-01' | date }}",
                                  "{{ '2026-03-01' | date('iso') }}", "{{ none | date }}"])
def test_what_is_not_a_date_fails_the_text_like_missing_data(text):
    with pytest.raises(ExpressionFailed):
        shown(text)


def test_a_periods_label_and_days_are_written_by_the_same_locale():
    assert month_period(2026, 3).label == "March 2026"
    assert month_period(2026, 3).span == "1 March – 31 March 2026"
    across = resolve({"kind": "last_days", "days": 7}, datetime(2026, 1, 3, 12, tzinfo=UTC))
    assert across.span == "28 December 2025 – 3 January 2026"


def test_names_of_months_weekdays_and_hours_come_from_the_locale():
    assert story_globals()["MONTHS"][3] == "April" and story_globals()["WEEKDAYS"][0] == "Monday"
    assert dates.month_names("abbreviated")[7] == "Aug" and dates.weekday_names("abbreviated")[4] == "Fri"
    assert dates.hour_name(7) == "07:00"


def test_no_module_but_dates_names_a_day_or_a_month():
    """engine/dates.py is the one owner of how dates read: no other module but the locale's own
    (engine/locales.py) and the numbers' (engine/numbers.py) imports Babel, none formats
    with strftime's names (%A %a %B %b) or has a month or weekday name as a string of its code."""
    root = Path(__file__).resolve().parents[1] / "widget_server"
    names = set(dates.month_names() + dates.weekday_names() + dates.month_names("abbreviated")
                + dates.weekday_names("abbreviated"))
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "dates.py":
            continue
        babel_allowed = path.relative_to(root).as_posix() in ("engine/locales.py", "engine/numbers.py")
        tree = ast.parse(path.read_text())
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            imported = (node.module or "" if isinstance(node, ast.ImportFrom) else
                        " ".join(a.name for a in node.names) if isinstance(node, ast.Import) else "")
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
            if (("babel" in imported and not babel_allowed) or (text is not None and id(node) not in docstrings
                                        and (text in names or re.search(r"%[AaBb]", text)))):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
