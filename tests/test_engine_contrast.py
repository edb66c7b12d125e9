"""The contrast rule: WCAG's arithmetic, the player's layers it models, and the shipped templates
that must pass it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from widget_server.engine import load_file, parse
from widget_server.engine.contrast import (
    AA_LARGE,
    AA_NORMAL,
    DEFAULT_GRADIENTS,
    ROLES,
    backdrops,
    check,
    parse_hex,
    ratio,
    required,
)
from widget_server.engine.templates import SHIPPED_DIR

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("text", "background", "expected"), [
    ("#777777", "#ffffff", 4.48),
    ("#000000", "#ffffff", 21.0),
    ("#ffffff", "#ffffff", 1.0),
    ("#ffffff", "#ffc800", 1.55),
    ("#767676", "#ffffff", 4.54),  # the lightest grey that passes on white
])
def test_contrast_of_known_pairs(text, background, expected):
    assert ratio(parse_hex(text), parse_hex(background)) == pytest.approx(expected, abs=0.01)
    assert ratio(parse_hex(background), parse_hex(text)) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("size", "weight", "minimum"), [
    (24, 400, AA_LARGE), (23.9, 400, AA_NORMAL), (18.66, 700, AA_LARGE), (18.66, 600, AA_NORMAL),
    (18, 800, AA_NORMAL), (14, 700, AA_NORMAL),
])
def test_large_text_is_24_px_or_bold_from_18_66_px(size, weight, minimum):
    assert required(size, weight) == minimum


def test_a_gradient_is_measured_at_both_ends_and_a_flat_colour_under_the_players_shade():
    ends = backdrops({"gradient": ["#000000", "#ffffff"]})
    assert (0, 0, 0) in ends and (255, 255, 255) in ends
    flat = backdrops({"color": "#808080"})
    assert max(flat) > (128, 128, 128) > min(flat)  # lighter at the top, darker at the bottom
    assert len(backdrops({"color": "#808080", "image": "/a.png"})) == 2 * len(flat)


TEMPLATE = """
id = "yellow"
title = "t"
[period]
kind = "last_days"
days = 7
[metrics.plays]
kind = "count"
event = "Song Played"
[[frames]]
id = "points"
kind = "stat"
title = "Points earned"
stat = {{ value = "{{{{ plays }}}}", caption = "Level up" }}
background = {{ {background} }}
[card]
title = "c"
background = {{ color = "#121212" }}
"""


def test_white_on_yellow_is_refused_naming_the_frame_the_text_and_the_ratio():
    template = parse(TEMPLATE.format(background='gradient = ["#ffc800", "#ff9600"]'))
    failures = {f.role: f for f in check(template.spec)}
    assert set(failures) >= {"title", "stat value", "stat caption", "brand"}
    assert all(f.frame == "points" for f in failures.values())
    assert str(failures["title"]).startswith("frames points: title #ffffff on #ffcd17 is 1.50:1")
    assert failures["title"].required == AA_LARGE and failures["stat caption"].required == AA_NORMAL
    assert check(parse(TEMPLATE.format(background='color = "#121212"')).spec) == []


def test_each_of_a_frames_fallbacks_is_measured_and_named():
    fallbacks = ('\n  [[frames.fallback]]\n  kind = "text"\n  title = "Dark"\n  background = { color = "#121212" }'
                 '\n  [[frames.fallback]]\n  kind = "text"\n  title = "Yellow"\n  background = { color = "#ffc800" }\n')
    template = parse(TEMPLATE.format(background='color = "#121212"').replace("\n[card]", fallbacks + "[card]"))
    assert {f.frame for f in check(template.spec)} == {"points (fallback 2)"}


def test_a_frame_without_background_is_measured_on_every_default_gradient():
    # Which of the player's gradients it gets depends on its place in the story, so all of them:
    # each reads with white text (two were green and yellow under white: 1.8 and 1.4:1), and a
    # grey that reads on the darkest but not on the lightest of them is refused.
    assert [str(f) for f in check(parse(TEMPLATE.format(background='image = ""')).spec)] == []
    for first, second in DEFAULT_GRADIENTS:
        assert min(ratio((255, 255, 255), parse_hex(c)) for c in (first, second)) >= AA_NORMAL
    grey = TEMPLATE.format(background='image = ""').replace('[card]', '[theme]\nforeground = "#9a9a9a"\n[card]')
    assert any(f.frame == "points" for f in check(parse(grey).spec))


@pytest.mark.parametrize("path", sorted(SHIPPED_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_the_shipped_templates_reach_aa_everywhere(path):
    assert [str(f) for f in check(load_file(path).spec)] == []


def _css_rule(css: str, selector: str) -> dict[str, str]:
    match = re.search(r"(?:^|\})\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert match, selector
    pairs = (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def _size_at_390(value: str) -> float:
    """A font-size from player.css at a 390 px wide phone (px, or clamp(min, vw, max))."""
    clamp = re.fullmatch(r"clamp\(([\d.]+)px, ([\d.]+)vw, ([\d.]+)px\)", value)
    if clamp:
        low, vw, high = (float(g) for g in clamp.groups())
        return min(max(low, vw * 3.9), high)
    return float(value.removesuffix("px"))


SELECTORS = {"brand": ".recap-brand", "eyebrow": ".recap-eyebrow", "title": ".recap-title",
             "text title": ".recap-kind-text .recap-title", "subtitle": ".recap-subtitle",
             "body": ".recap-body", "stat value": ".recap-stat-value.is-long", "stat unit": ".recap-stat-unit",
             "stat caption": ".recap-stat-caption", "list rank": ".recap-rank", "list label": ".recap-item-label",
             "list value": ".recap-item-value", "chart label": ".recap-chart-label",
             "chart caption": ".recap-caption", "button": ".recap-btn"}


@pytest.mark.parametrize("role", sorted(SELECTORS))
def test_the_roles_sizes_weights_and_opacities_are_the_players(role):
    css = (ROOT / "widget_server/player/static/player.css").read_text()
    rule = _css_rule(css, SELECTORS[role])
    base = _css_rule(css, ".recap-title") if role == "text title" else {}
    base = _css_rule(css, ".recap-stat-value") if role == "stat value" else base
    size = _size_at_390(rule.get("font-size") or base["font-size"])
    if role == "chart label":  # SVG units: the bar chart's 320 wide viewBox is drawn 390 - 2 × 28 px wide
        size *= (390 - 2 * 28) / 320
    weight = int(rule.get("font-weight") or base["font-weight"])
    assert (ROLES[role].size, ROLES[role].weight) == (pytest.approx(size, abs=0.01), weight)
    assert ROLES[role].opacity == float(rule.get("opacity", "1"))


def test_the_default_gradients_are_the_players():
    render = (ROOT / "js/player/render.js").read_text()
    palette = re.search(r"const PALETTE = \[(.*?)\];", render, re.S).group(1)
    assert tuple(tuple(pair) for pair in re.findall(r"\['(#\w+)', '(#\w+)'\]", palette)) == DEFAULT_GRADIENTS
