"""A share as Instagram Stories takes it: the card as a sticker over a two-colour background.

Meta's Sharing to Stories composes a story from layers: a background (an image, or a gradient
from a top and a bottom colour) and a sticker image the user can move and resize. The app hands
them over through the host bridge (docs/PLAYER.md). The sticker is the story card itself,
scaled down, with rounded corners and transparent around them, so it floats on a background of
the card's own colours.
"""
from __future__ import annotations

from PIL import Image, ImageDraw

from .cards import Palette
from .drawing import Color

RADIUS = 64  # of the corners, at the card's 1080×1920


def render_sticker(story: Image.Image) -> Image.Image:
    """The story card (``cards.render_story``, or its PNG) as an RGBA sticker with rounded corners.

    Full size: the card's fine grain is what keeps its gradient free of bands in a 256-colour
    PNG, and scaling would smooth it away. Instagram scales the sticker to the screen itself.
    """
    sticker = story.convert("RGBA")
    mask = Image.new("L", story.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, story.width - 1, story.height - 1), radius=RADIUS, fill=255)
    sticker.putalpha(mask)
    return sticker


def background(theme: dict[str, object] | None) -> dict[str, str]:
    """The background layer's top and bottom colours: the card's own gradient ends."""
    palette = Palette.from_theme(theme)
    return {"top": _hex(palette.background), "bottom": _hex(palette.bottom)}


def _hex(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)
