"""What template text may call: the ``duration`` filter (a pace "6:02", a total "1 hr 5 mins"),
rendered the way a story's text is; and the sandbox's filters, tests and globals, exactly as
docs/STORIES.md lists them, with the built-ins left out refused by the check."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from widget_server.engine import TemplateInvalid, parse
from widget_server.engine.expressions import (
    ENV,
    LEFT_OUT_FILTERS,
    LEFT_OUT_GLOBALS,
    RECAP_FILTERS,
    ExpressionFailed,
    render,
    story_globals,
)

ROOT = Path(__file__).resolve().parents[1]


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
    ("duration('units')", 3900, "1 hr 5 mins"),  # a total (en-GB, every app's default locale)
    ("duration('units')", 3929, "1 hr 5 mins"),  # to the nearest minute once it is hours
    ("duration('units')", 3930, "1 hr 6 mins"),
    ("duration('units')", 7199, "2 hrs"),
    ("duration('units')", 3_600_000, "1,000 hrs"),
    ("duration('units')", 362, "6 mins 2 secs"),
    ("duration('units')", 45, "45 secs"),
    ("duration('units')", 0, "0 secs"),
    ("duration('units')", 360, "6 mins"),
    ("duration(unit='ms')", 250_000, "4:10"),  # ms_played as it is
    ("duration('units', unit='ms')", 4_500_000, "1 hr 15 mins"),
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


def _documented() -> dict[str, set[str]]:
    """The sandbox's names as docs/STORIES.md lists them: '- <what>: `a`, `b`, …'."""
    lines = (ROOT / "docs" / "STORIES.md").read_text().splitlines()
    found = {}
    for line in lines:
        match = re.fullmatch(r"- (Recap's filters|Jinja's filters|Tests \(`x is even`\)|Globals"
                             r"|Left out of Jinja's): (.*)", line)
        if match:
            found[match.group(1).split(" (")[0]] = set(re.findall(r"`([^`]+)`", match.group(2)))
    return found


def test_the_docs_list_exactly_what_the_sandbox_offers():
    documented = _documented()
    assert documented["Recap's filters"] == set(RECAP_FILTERS)
    assert documented["Jinja's filters"] == set(ENV.filters) - set(RECAP_FILTERS)
    assert documented["Tests"] == set(ENV.tests)
    assert documented["Globals"] == set(ENV.globals)
    assert documented["Left out of Jinja's"] == set(LEFT_OUT_FILTERS) | set(LEFT_OUT_GLOBALS)
    assert not (set(LEFT_OUT_FILTERS) & set(ENV.filters)) and not (set(LEFT_OUT_GLOBALS) & set(ENV.globals))


@pytest.mark.parametrize(("text", "name"), [
    ("{{ plays | random }}", "random"), ("{{ 'x' | center(10**9) }}", "center"),
    ("{{ '%09999999d' | format(1) }}", "format"), ("{{ 'x' | indent(10**9, true) }}", "indent"),
    ("{{ lipsum(10**6) }}", "lipsum")])
def test_a_built_in_left_out_is_refused_by_the_check_with_its_path(text, name):
    template = TEMPLATE.replace("TITLE", text.replace('"', '\\"'))
    with pytest.raises(TemplateInvalid) as caught:
        parse(template)
    assert any(e["path"] == "frames[0].title" and name in e["reason"] for e in caught.value.errors), caught.value.errors


TEMPLATE = """
id = "sandbox"
title = "Sandbox"
[period]
kind = "year"
[metrics.plays]
kind = "count"
event = "Song Played"
[[frames]]
id = "a"
kind = "text"
title = "TITLE"
[card]
title = "c"
"""
