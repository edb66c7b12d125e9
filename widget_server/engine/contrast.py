"""WCAG contrast of a story's text against its frames' backgrounds, as the player draws them.

Pure (no Flask, no browser): ``recap templates check`` refuses a template whose text would not
read. Automated checkers cannot measure text over a gradient, so the player's layers are modelled
here: a frame's solid colour under the player's shade (lighter at the top, darker at the bottom),
both ends of a gradient, a background picture as its darkest and lightest shades, the ring drawn
behind every frame's text, the panels behind list items, and each text role's size, weight and
opacity from ``widget_server/player/static/player.css`` (a test keeps the two in step; another
measures the pixels Chromium draws).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import error_entry
from .frames import fallbacks

Color = tuple[float, float, float]
FALLBACK_NAME = re.compile(r"(.+) \(fallback(?: (\d+))?\)")  # check's name of a fallback: "id (fallback 2)"
WHITE: Color = (255.0, 255.0, 255.0)
BLACK: Color = (0.0, 0.0, 0.0)

AA_NORMAL = 4.5
AA_LARGE = 3.0  # text of 24 px and more, or 18.66 px (14 pt) and more in bold


def parse_hex(value: str) -> Color:
    """``#rgb``, ``#rrggbb`` or ``#rrggbbaa`` (its alpha ignored) to channels 0–255."""
    digits = value.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return float(int(digits[0:2], 16)), float(int(digits[2:4], 16)), float(int(digits[4:6], 16))


def luminance(color: Color) -> float:
    """Relative luminance (WCAG 2), 0 for black to 1 for white."""
    def channel(c: float) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: Color, b: Color) -> float:
    """The contrast ratio of two colours, 1 to 21."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over(top: Color, alpha: float, under: Color) -> Color:
    """``top`` painted with opacity ``alpha`` over ``under``."""
    r, g, b = (t * alpha + u * (1 - alpha) for t, u in zip(top, under, strict=True))
    return r, g, b


def required(size_px: float, weight: int) -> float:
    """AA's minimum for text of this size and weight."""
    return AA_LARGE if size_px >= 24 or (size_px >= 18.66 and weight >= 700) else AA_NORMAL


@dataclass(frozen=True)
class Role:
    """A kind of text the player draws: its size at a 390 px wide phone, weight, opacity, colour
    (the theme's foreground, its accent, or a fixed one) and what it sits on besides the frame."""

    name: str
    size: float
    weight: int
    opacity: float = 1.0
    color: str = "foreground"  # or "accent", or "#rrggbb"
    panel: tuple[Color, float] | None = None  # a translucent box between the text and the frame


# The player's layers (player.css and render.js): what a flat colour gets over it, the ring.
SHADE_TOP = (WHITE, 0.10)
SHADE_BOTTOM = (BLACK, 0.38)
RING = (WHITE, 0.09)
IMAGE_OPACITY = 0.55
# render.js's colours for a frame that names no background: which one depends on the frame's place.
DEFAULT_GRADIENTS = (("#5b2cff", "#c2185b"), ("#064e3b", "#13703a"), ("#9a3412", "#b93d0b"),
                     ("#0b1e5b", "#0369a1"), ("#7a0bc0", "#be185d"), ("#1a1a1a", "#5c5c5c"))
# The top item's box is lighter than the others' (22% black): the worse of the two for light text.
FIRST_ITEM_PANEL = (WHITE, 0.18)
BUTTON_PANEL = (BLACK, 0.18)

# Sizes at 390 px wide (clamp() and vw resolved), from player.css.
ROLES = {r.name: r for r in (
    Role("brand", 14, 700),
    Role("eyebrow", 13, 800),
    Role("title", 33.54, 800),
    Role("text title", 44.85, 800),
    Role("subtitle", 18, 600),
    Role("body", 17, 500),
    Role("stat value", 42.9, 800),
    Role("stat unit", 28, 800),
    Role("stat caption", 17, 600),
    Role("list rank", 30, 800, panel=FIRST_ITEM_PANEL),
    Role("list label", 19, 800, panel=FIRST_ITEM_PANEL),
    Role("list value", 14, 600, panel=FIRST_ITEM_PANEL),
    Role("chart label", 12.52, 700, 0.75),
    Role("chart highlight", 12.52, 700, color="accent"),
    Role("chart caption", 16, 600),
    Role("button", 16, 800, color="#ffffff", panel=BUTTON_PANEL),
)}
# The share card, drawn on the theme's background inside the last frame.
CARD_ROLES = (Role("card title", 28, 800), Role("card subtitle", 15, 600, 0.8),
              Role("card stat label", 12, 700, 0.7), Role("card stat value", 26, 800, color="accent"),
              Role("card list", 17, 700), Role("card footer", 13, 700, 0.6))


@dataclass(frozen=True)
class Failure:
    """One text of one frame that does not reach AA, on the shade where it reads worst."""

    frame: str
    role: str
    ratio: float
    required: float
    text: Color
    backdrop: Color

    def __str__(self) -> str:
        return (f"frames {self.frame}: {self.role} {_hex(self.text)} on {_hex(self.backdrop)} is "
                f"{self.ratio:.2f}:1, under AA's {self.required:g}:1")


def _hex(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(c) for c in color))


def backdrops(background: dict[str, Any] | None) -> list[Color]:
    """Every shade text may sit on in a frame with this ``background``, ring included."""
    background = background or {}
    if background.get("gradient"):
        base = [parse_hex(c) for c in background["gradient"]]
    elif background.get("color"):
        flat = parse_hex(background["color"])
        base = [over(*SHADE_TOP, flat), over(*SHADE_BOTTOM, flat)]
    else:
        base = [parse_hex(c) for pair in DEFAULT_GRADIENTS for c in pair]
    if background.get("image"):  # a picture of any shades over the colour
        base = [over(extreme, IMAGE_OPACITY, c) for c in base for extreme in (BLACK, WHITE)]
    return base + [over(*RING, c) for c in base]


def worst(role: Role, theme: dict[str, str], shades: list[Color]) -> tuple[float, Color, Color]:
    """The role's lowest contrast over ``shades``: (ratio, text as drawn, what it is drawn on)."""
    named = {"foreground": theme.get("foreground", "#ffffff"), "accent": theme.get("accent", "#1ed760")}
    ink = parse_hex(named.get(role.color, role.color))
    found: tuple[float, Color, Color] | None = None
    for shade in shades:
        under = over(*role.panel, shade) if role.panel else shade
        drawn = over(ink, role.opacity, under)
        value = ratio(drawn, under)
        if found is None or value < found[0]:
            found = (value, drawn, under)
    assert found is not None
    return found


def roles_of(frame: dict[str, Any], first: bool) -> Iterator[str]:
    """The text roles a frame of the template shows (``first``: it may open the story)."""
    yield "brand"
    if first:
        yield "eyebrow"
    if frame.get("title"):
        yield "text title" if frame["kind"] == "text" else "title"
    for key in ("subtitle", "body"):
        if frame.get(key):
            yield key
    stat = frame.get("stat") or {}
    if frame["kind"] == "stat":
        yield "stat value"
        yield from (f"stat {key}" for key in ("unit", "caption") if stat.get(key))
    if frame["kind"] == "list":
        yield "list rank"
        yield "list label"
        if (frame.get("list") or {}).get("value"):
            yield "list value"
    if frame["kind"] == "chart":
        yield from ("chart label", "chart highlight")
        if (frame.get("chart") or {}).get("caption"):
            yield "chart caption"
    if len(frame.get("buttons") or []) > 1:  # the first button is dark on white; the others light
        yield "button"


def check(spec: dict[str, Any]) -> list[Failure]:
    """Every text of every frame (and fallback) of a validated template under AA."""
    theme = {"background": "#121212", "foreground": "#ffffff", "accent": "#1ed760", **spec.get("theme", {})}
    failures: list[Failure] = []
    may_open = True  # the first frames up to one shown to everyone may open the story
    for frame in spec["frames"]:
        listed = fallbacks(frame)
        bodies = [(frame["id"], frame)] + [(f"{frame['id']} (fallback{'' if len(listed) == 1 else f' {i + 1}'})", body)
                                           for i, body in enumerate(listed)]
        for name, body in bodies:
            shades = backdrops(body.get("background"))
            failures += _measure(name, [ROLES[r] for r in roles_of(body, may_open)], theme, shades)
        may_open = may_open and "when" in frame
    card = spec["card"]
    failures += _measure("card", [ROLES[r] for r in roles_of({"kind": "card", **card}, False)], theme,
                         backdrops(card.get("background")))
    failures += _measure("card", list(CARD_ROLES), theme, [parse_hex(theme["background"])])
    return failures


def errors(spec: dict[str, Any]) -> list[dict[str, str]]:
    """``check``'s failures as a template's refusals: the frame's key path (``frames[2]``,
    ``frames[2].fallback``, ``card``) and the failure, as the command line, the API and the
    studio all show them."""
    index = {frame["id"]: i for i, frame in enumerate(spec["frames"])}
    out = []
    for failure in check(spec):
        named = FALLBACK_NAME.fullmatch(failure.frame)
        frame_id = named.group(1) if named else failure.frame
        path = f"frames[{index[frame_id]}]" if frame_id in index else "card"
        if named:
            path += ".fallback" + (f"[{int(named.group(2)) - 1}]" if named.group(2) else "")
        out.append(error_entry(path, failure))
    return out


def _measure(frame: str, roles: list[Role], theme: dict[str, str], shades: list[Color]) -> list[Failure]:
    out = []
    for role in roles:
        value, drawn, under = worst(role, theme, shades)
        need = required(role.size, role.weight)
        if value < need:
            out.append(Failure(frame, role.name, value, need, drawn, under))
    return out
