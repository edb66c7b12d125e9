"""A key that means nothing for a metric's kind is refused, naming the key path and why; ``by``
is checked against the values of the metric's own kind."""
from __future__ import annotations

import pytest

from widget_server.engine import parse
from widget_server.engine.errors import TemplateInvalid
from widget_server.engine.template_schema import METRIC_KEYS

TEMPLATE = """
id = "keys"
title = "Keys"
[period]
kind = "year"
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.probe]
{probe}
[[frames]]
id = "a"
kind = "text"
title = "t"
[card]
title = "c"
"""


def _errors(probe: str) -> list[dict]:
    with pytest.raises(TemplateInvalid) as caught:
        parse(TEMPLATE.format(probe=probe))
    return caught.value.details["errors"]


@pytest.mark.parametrize("probe, path, words", [
    ('kind = "streak"\nby = "month"', "metrics.probe.by", ["streak metric has no 'by'", "'mode'"]),
    ('kind = "streak"\nby = "week"', "metrics.probe.by", ["streak metric has no 'by'", "'unit'"]),
    ('kind = "streak"\nunit = "year"', "metrics.probe.unit", ["Must be one of: day, week, month"]),
    ('kind = "streak"\nproperty = "ms"', "metrics.probe.property", ["streak metric has no 'property'"]),
    ('kind = "series"\nby = "week"', "metrics.probe.by", ["'hour', 'weekday', 'month' or 'day'", "'week'"]),
    ('kind = "top"\nproperty = "artist"\nby = "hour"', "metrics.probe.by", ["'count' or 'sum'", "'hour'"]),
    ('kind = "top"\nproperty = "artist"\nsum_property = "ms"', "metrics.probe.sum_property",
     ["ranked by sum"]),
    ('kind = "count"\nmode = "current"', "metrics.probe.mode", ["count metric has no 'mode'"]),
    ('kind = "share"\npart = { device = "ios" }\nscale = 2', "metrics.probe.scale", ["share metric has no 'scale'"]),
    ('kind = "tier"\nof = "plays"\ntiers = [{ min = 1, label = "a" }]\nevent = "Song Played"',
     "metrics.probe.event", ["tier metric has no 'event'", "'of' and 'tiers'"]),
    ('kind = "change"\nof = "plays"\nn = 3', "metrics.probe.n", ["change metric has no 'n'"]),
    ('kind = "derived"\nexpr = "plays * 2"\nof = "plays"', "metrics.probe.of", ["derived metric has no 'of'"]),
])
def test_a_key_the_kind_does_not_read_is_refused_by_name(probe, path, words):
    errors = _errors(probe)
    reasons = [e["reason"] for e in errors if e["path"] == path]
    assert reasons, errors
    for word in words:
        assert word in reasons[0], reasons


def test_every_key_a_kind_reads_is_accepted():
    """The table is not stricter than the engine: each kind with all its keys loads."""
    values = {"event": '"Song Played"', "events": '["Song Played"]', "type": '"track"',
              "where": "{ device = \"ios\" }", "property": '"ms"', "scale": "0.001", "part": "{ device = \"ios\" }",
              "n": "3", "by": None, "sum_property": '"ms"', "mode": '"current"', "of": '"plays"',
              "tiers": '[{ min = 1, label = "a" }]', "expr": '"plays * 2"',
              "rules": '[{ when = "plays > 1", label = "a" }]', "default": '"b"', "order": '"recent"',
              "unit": '"week"'}
    by = {"top": '"sum"', "series": '"month"'}
    for kind, (reads, _) in METRIC_KEYS.items():
        lines = [f'kind = "{kind}"'] + [f"{key} = {by[kind] if key == 'by' else values[key]}" for key in reads
                                        if key != "events"]  # (event or events, not both)
        if kind == "peak_month":  # of a top list
            lines = [f'kind = "{kind}"', 'of = "top"']
        source = TEMPLATE.format(probe="\n".join(lines))
        source = source.replace("[metrics.probe]", '[metrics.top]\nkind = "top"\nproperty = "artist"\n[metrics.probe]')
        parse(source)
