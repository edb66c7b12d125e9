"""The filters template text formats numbers with: ``duration`` (a pace "6:02", a total
"1 h 05 min"), rendered the way a story's text is."""
from __future__ import annotations

import pytest

from widget_server.engine.expressions import ExpressionFailed, render, story_globals


def shown(text: str, **values) -> str:
    return render(text, {**story_globals(), **values})


@pytest.mark.parametrize(("call", "seconds", "expected"), [
    ("duration", 362, "6:02"),  # a pace per km
    ("duration", 362.4, "6:02"),
    ("duration", 2.5, "0:03"),  # halves round up, not to even
    ("duration", 45, "0:45"),
    ("duration", 0, "0:00"),
    ("duration('clock')", 3900, "1:05:00"),
    ("duration('clock')", 3599.6, "1:00:00"),
    ("duration('units')", 3900, "1 h 05 min"),  # a total
    ("duration('units')", 3929, "1 h 05 min"),  # to the nearest minute once it is hours
    ("duration('units')", 3930, "1 h 06 min"),
    ("duration('units')", 7199, "2 h 00 min"),
    ("duration('units')", 3_600_000, "1,000 h 00 min"),
    ("duration('units')", 362, "6 min 02 s"),
    ("duration('units')", 45, "45 s"),
    ("duration(unit='ms')", 250_000, "4:10"),  # ms_played as it is
    ("duration('units', unit='ms')", 4_500_000, "1 h 15 min"),
])
def test_duration_reads_seconds_as_a_clock_or_in_units(call, seconds, expected):
    assert shown("{{ s | " + call + " }}", s=seconds) == expected


def test_a_pace_reads_per_km():
    assert shown("{{ (seconds / km) | duration }} /km", seconds=3020, km=5) == "10:04 /km"


@pytest.mark.parametrize("text", ["{{ none | duration }}", "{{ 'soon' | duration }}", "{{ -5 | duration }}",
                                  "{{ true | duration }}", "{{ (1e308 * 10) | duration }}",
                                  "{{ 60 | duration('iso') }}", "{{ 60 | duration(unit='min') }}"])
def test_what_is_not_a_duration_fails_the_text_like_missing_data(text):
    with pytest.raises(ExpressionFailed):
        shown(text)
