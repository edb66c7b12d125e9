"""The story shape's run-time check (tests/story_schema.py) finds what differs from
widget_server/engine/story_shape.py, so the API and engine tests that rely on it can fail."""
from __future__ import annotations

from story_schema import story_problems


def _frame(**changes):
    frame = {"id": "intro", "kind": "text", "duration_ms": 6000,
             "background": {"color": "#101010", "gradient": None, "image": None},
             "title": "Your year", "subtitle": None, "body": None, "stat": None, "items": None, "media": None,
             "chart": None, "buttons": []}
    frame.update(changes)
    return frame


def _story(**changes):
    theme = {"background": "#101010", "foreground": "#ffffff", "accent": "#1db954"}
    story = {"template": "music-wrapped", "version": 3, "title": "Wrapped", "generated_at": "2026-12-02T00:00:00Z",
             "period": {"label": "2026", "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
             "locale": "en-GB", "direction": "ltr",
             "source": "on_demand", "app": {"name": "Tunes", "deep_link_scheme": None}, "theme": theme,
             "frames": [_frame()],
             "card": {"title": "2026", "subtitle": None, "stats": [{"label": "Minutes", "value": "1,200"}],
                      "list": None, "image": None, "theme": theme, "footer": "tunes.example"},
             "experiment": None}
    story.update(changes)
    return story


def test_a_story_of_the_shape_has_no_problems():
    assert story_problems(_story()) == []


def test_missing_extra_and_mistyped_fields_are_named_with_their_path():
    frame = _frame(kind="poster", duration_ms="6000", extra=1)
    del frame["background"]["image"]
    problems = story_problems(_story(frames=[frame], source="cached"))
    assert sorted(problems) == [
        "story.frames[0].background.image: missing",
        "story.frames[0].duration_ms: '6000', not an integer",
        "story.frames[0].extra: not part of the shape",
        "story.frames[0].kind: 'poster' is not one of "
        "('text', 'stat', 'list', 'image', 'gif', 'video', 'chart', 'card')",
        "story.source: 'cached' is not one of ('on_demand', 'precomputed')",
    ]


def test_numbers_are_not_booleans_and_lists_hold_their_type():
    card = _story()["card"] | {"stats": [{"label": "Minutes", "value": 1200}]}
    chart = {"type": "bar", "labels": ["Jan"], "values": [True], "highlight": None, "caption": None}
    problems = story_problems(_story(card=card, frames=[_frame(kind="chart", chart=chart)]))
    assert sorted(problems) == ["story.card.stats[0].value: 1200, not a str",
                                "story.frames[0].chart.values[0]: True, not a number"]
