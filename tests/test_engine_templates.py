"""Template loading: the shipped templates are valid, and each kind of mistake is refused with
the file, the key path and a reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from widget_server.engine import TemplateInvalid, load_file, parse, registry
from widget_server.engine.errors import NotFound
from widget_server.engine.templates import SHIPPED_DIR

VALID = """
id = "mini"
title = "Your {{ period.label }}"
[period]
kind = "last_days"
days = 30
[[eligibility]]
metric = "plays"
min = 1
message = "Play something first."
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.top]
kind = "top"
event = "Song Played"
property = "artist"
[[frames]]
id = "plays"
kind = "stat"
stat = { value = "{{ plays | number }}" }
[[frames]]
id = "top"
kind = "list"
list = { metric = "top" }
[card]
title = "My month"
"""


def test_shipped_templates_are_valid():
    ids = {load_file(path).id for path in SHIPPED_DIR.glob("*.toml")}
    assert {"year-in-music", "learning-recap"} <= ids


def test_a_minimal_template_loads():
    template = parse(VALID, "mini.toml")
    assert template.id == "mini" and list(template.sql_metrics) == ["plays", "top"]


def edit(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize("source, path, reason", [
    (edit('id = "mini"', 'id = "Mini Story!"'), "id", "a-z"),
    (edit('id = "mini"\n', ""), "id", "Missing data"),
    (edit('kind = "last_days"', 'kind = "fortnight"'), "period.kind", "Must be one of"),
    (edit("days = 30", ""), "period.days", "needs 'days'"),
    (edit("days = 30", "days = 400"), "period.days", "less than or equal to 366"),
    (edit('kind = "count"', 'kind = "median"'), "metrics.plays.kind", "Must be one of"),
    (edit('property = "artist"', 'property = "artist; DROP TABLE event"'), "metrics.top.property", "property path"),
    (edit('property = "artist"\n', ""), "metrics.top.property", "needs 'property'"),
    (edit('event = "Song Played"\n[metrics.top]', 'event = "Song Played"\ncolour = "red"\n[metrics.top]'),
     "metrics.plays.colour", "Unknown field"),
    (edit('kind = "stat"', 'kind = "hologram"'), "frames[0].kind", "Must be one of"),
    (edit('stat = { value = "{{ plays | number }}" }', ""), "frames[0].stat", "needs 'stat'"),
    (edit('{{ plays | number }}', "{{ plays | number "), "frames[0].stat.value", "syntax"),
    (edit('list = { metric = "top" }', 'list = { metric = "nope" }'), "frames[1].list.metric", "No metric"),
    (edit('id = "top"\nkind = "list"', 'id = "plays"\nkind = "list"'), "frames[1].id", "used twice"),
    (edit('metric = "plays"\nmin = 1', 'metric = "ghost"\nmin = 1'), "eligibility[0].metric", "No metric"),
    (edit('message = "Play something first."\n', ""), "eligibility[0].message", "Missing data"),
    (edit('title = "My month"', 'subtitle = "x"'), "card.title", "Missing data"),
    (VALID + '[metrics.rank]\nkind = "percentile"\nof = "top"\n', "metrics.rank.of", "count, sum"),
    (VALID + '[metrics.range]\nkind = "count"\nevent = "Skip"\n', "metrics.range", "reserved"),
    (VALID + '[metrics.named]\nkind = "derived"\nexpr = "plays ~ \' plays\'"\n[metrics.rank]\nkind = "percentile"\n'
             'of = "named"\n', "metrics.rank.of", "'named' reads more than that, and a percentile computes it"),
    (VALID + '[metrics.spread]\nkind = "derived"\nexpr = "plays / (top | length)"\n[metrics.more]\nkind = "change"\n'
             'of = "spread"\n', "metrics.more.of", "for the period before from scalar metrics alone"),
    (VALID + '[metrics.rank]\nkind = "percentile"\nof = "top"\n', "metrics.rank.of", "'top' is a top metric"),

    (VALID + '[metrics.later]\nkind = "tier"\nof = "plays"\ntiers = [{ min = "a", label = "x" }]\n',
     "metrics.later.tiers[0].min", "number"),
    (edit('[[frames]]\nid = "plays"', '[theme]\nbackground = "red"\n[[frames]]\nid = "plays"'),
     "theme.background", "colour"),
    (edit('list = { metric = "top" }', 'list = { metric = "top" }\nfallback = { kind = "stat", title = "x" }'),
     "frames[1].fallback.stat", "needs 'stat'"),
    (edit('list = { metric = "top" }', 'list = { metric = "top" }\nfallback = [{ kind = "text", title = "x" }, '
                                        '{ kind = "stat", title = "y" }]'),
     "frames[1].fallback[1].stat", "needs 'stat'"),
    (edit('list = { metric = "top" }', 'list = { metric = "top" }\nfallback = [{ kind = "text", title = "x", '
                                        'when = "plyas > 1" }]'), "frames[1].fallback[0].when", "'plyas' is not"),
    (edit('list = { metric = "top" }', 'list = { metric = "top" }\nfallback = { kind = "text", title = "x", '
                                        'when = "plays >" }'), "frames[1].fallback.when", "syntax"),
    (edit('list = { metric = "top" }', 'list = { metric = "top" }\nfallback = []'), "frames[1].fallback",
     "a list of 1–5"),
    ("id = [", "", "Not valid TOML"),
    (edit('list = { metric = "top" }', 'list = { metric = "top", min_items = 0 }'), "frames[1].list.min_items",
     "greater than or equal to 1"),
    (edit('list = { metric = "top" }', 'list = { metric = "top", limit = 3, min_items = 4 }'),
     "frames[1].list.min_items", "never show"),
    (edit('list = { metric = "top" }', 'list = { metric = "top", min_items = 6 }'),  # the default limit is 5
     "frames[1].list.min_items", "never show"),
    (edit('property = "artist"', 'property = "artist"\norder = "newest"'), "metrics.top.order", "Must be one of"),
    (edit('kind = "count"', 'kind = "count"\norder = "recent"'), "metrics.plays.order", "no 'order'"),
    # Each of these validated once and then failed at render: a 500, or a frame skipped for everyone.
    (edit('kind = "last_days"\ndays = 30', 'kind = "year"\ncutoff = "02-30"'), "period.cutoff", "every year"),
    (edit('kind = "last_days"\ndays = 30', 'kind = "year"\ncutoff = "02-29"'), "period.cutoff", "02-29"),
    (edit('metric = "plays"\nmin = 1', 'metric = "top"\nmin = 1'), "eligibility[0].metric", "compares a number"),
    (VALID + '[metrics.level]\nkind = "tier"\nof = "top"\ntiers = [{ min = 1, label = "x" }]\n',
     "metrics.level.of", "needs a number"),
    (edit('event = "Song Played"\n[metrics.top]',
          'event = "Song Played"\nwhere = { ms = { gt = [1, 2] } }\n[metrics.top]'),
     "metrics.plays.where.ms.value", "'gt' compares with a number"),
    (edit('event = "Song Played"\n[metrics.top]',
          'event = "Song Played"\nwhere = { ms = { eq = { x = 1 } } }\n[metrics.top]'),
     "metrics.plays.where.ms.value", "'eq' compares with a value"),
    (edit('event = "Song Played"\n[metrics.top]',
          'event = "Song Played"\nwhere = { ms = { exists = "yes" } }\n[metrics.top]'),
     "metrics.plays.where.ms.value", "true or false"),
    (edit('{{ plays | number }}', "{{ plyas | number }}"), "frames[0].stat.value", "'plyas' is not a metric"),
    (edit('kind = "stat"', 'kind = "stat"\nwhen = "plays > 1 and top_artist"'), "frames[0].when",
     "'top_artist' is not"),
    (VALID + '[metrics.headline]\nkind = "derived"\nexpr = "vibe ~ \'!\'"\n[metrics.vibe]\nkind = "label"\n'
             'rules = [{ when = "plays > 1", label = "busy" }]\n', "metrics.headline", "'vibe' must be defined before"),
])
def test_invalid_templates_name_file_key_path_and_reason(source, path, reason):
    with pytest.raises(TemplateInvalid) as info:
        parse(source, "story_templates/broken.toml")
    error = info.value
    assert path in error.paths, error.errors
    match = next(e for e in error.errors if e["path"] == path)
    assert reason.lower() in match["reason"].lower()
    assert error.details["file"] == "story_templates/broken.toml"
    assert str(error).startswith("story_templates/broken.toml: ")
    assert error.status == 422 and error.code == "template_invalid"


def test_a_derived_metric_of_arithmetic_over_scalars_can_be_ranked_and_compared():
    """"Total saved" = deposits - withdrawals, ranked among the app's users and against last year."""
    source = VALID + """
[metrics.withdrawn]
kind = "sum"
event = "Withdrawal"
property = "amount"
[metrics.deposited]
kind = "sum"
event = "Deposit"
property = "amount"
[metrics.saved]
kind = "derived"
expr = "deposited - withdrawn"
[metrics.saved_per_play]
kind = "derived"
expr = "(saved * 100) // -(-plays)"
[metrics.rank]
kind = "percentile"
of = "saved_per_play"
[metrics.more]
kind = "change"
of = "saved"
"""
    template = parse(source)
    assert set(template.later_metrics) >= {"rank", "more"}


def test_tier_bounds_are_loaded_as_numbers():
    source = VALID + '[metrics.level]\nkind = "tier"\nof = "plays"\ntiers = [{ min = "10", label = "fan" }]\n'
    assert parse(source).spec["metrics"]["level"]["tiers"] == [{"min": 10.0, "label": "fan"}]


def test_file_name_must_match_the_id(tmp_path: Path):
    path = tmp_path / "other.toml"
    path.write_text(VALID)
    with pytest.raises(TemplateInvalid) as info:
        load_file(path)
    assert info.value.paths == ["id"] and str(path) in str(info.value)


def test_oversized_template_is_refused():
    with pytest.raises(TemplateInvalid):
        parse(VALID + "#" * 300_000)


@pytest.mark.parametrize("template_id", ["../etc/passwd", "../../story_templates/year_in_music", "/etc/passwd",
                                         "year-in-music\n", "year-in-music/", "year_in_music", "Year-In-Music",
                                         "", None, "no-such-template"])
def test_registry_refuses_an_id_that_is_not_a_known_template(template_id):
    assert registry.path_for(None, template_id) is None
    with pytest.raises(NotFound) as caught:
        registry.get(None, template_id)
    assert caught.value.status == 404 and caught.value.code == "not_found"


def test_registry_finds_a_shipped_template_by_its_id():
    assert registry.path_for(None, "year-in-music") == SHIPPED_DIR / "year_in_music.toml"
    assert registry.get(None, "year-in-music").id == "year-in-music"
