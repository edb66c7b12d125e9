"""Drawing helpers for cards: the bundled fonts, theme colours, text fitting and backgrounds."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, TypeGuard

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ..assets.fonts import FONT_DIR
from ..engine.contrast import AA_LARGE
from ..engine.contrast import ratio as contrast

Color = tuple[int, int, int]

# Manrope (SIL Open Font License) ships as a Python package (FONT_DIR), so cards look the same on
# every machine and never depend on the fonts a server happens to have installed.
WEIGHTS = ("ExtraBold", "Bold", "SemiBold", "Medium", "Regular")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ELLIPSIS = "…"


@lru_cache(maxsize=128)
def font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    """The Manrope face of ``weight`` at ``size`` pixels (loaded once per process)."""
    if weight not in WEIGHTS:
        raise ValueError(f"unknown font weight {weight!r}")
    return ImageFont.truetype(str(FONT_DIR / f"Manrope-{weight}.ttf"), size, layout_engine=ImageFont.Layout.BASIC)


def is_hex_color(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_HEX.match(value))


def parse_color(value: object, default: Color) -> Color:
    """``#rgb`` / ``#rrggbb`` to a tuple; anything else (it came from a template) gives ``default``."""
    if not is_hex_color(value):
        return default
    digits = value[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def hex_color(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def mix(a: Color, b: Color, t: float) -> Color:
    """``a`` moved ``t`` of the way towards ``b``."""
    red, green, blue = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return red, green, blue


def readable_on(background: Color, preferred: Color, minimum: float = AA_LARGE) -> Color:
    """``preferred``, darkened or lightened only as far as needed to read on ``background``
    (WCAG contrast ``minimum``, 3:1 for large text), so a brand colour keeps its hue."""
    if contrast(background, preferred) >= minimum:
        return preferred
    white, black = (255, 255, 255), (0, 0, 0)
    toward = white if contrast(background, white) >= contrast(background, black) else black
    for step in range(1, 11):
        candidate = mix(preferred, toward, step / 10)
        if contrast(background, candidate) >= minimum:
            return candidate
    return toward


@lru_cache(maxsize=4096)
def has_glyph(char: str) -> bool:
    """Whether Manrope draws ``char`` (the weights cover the same characters).

    A missing character renders as the font's "notdef" box; it is recognised by drawing exactly
    like a private-use code point that no font maps.
    """
    if char.isspace():
        return True
    return _mask_bytes(char) != _mask_bytes("\U0010FFFD")


@lru_cache(maxsize=4096)
def _mask_bytes(char: str) -> bytes:
    face = font("Bold", 32)
    left, top, right, bottom = (int(edge) for edge in face.getbbox(char))  # (FreeType's are whole pixels)
    mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), char, font=face, fill=255)
    return mask.tobytes()


def card_text(value: Any) -> str:
    """A value from a story as one line of drawable words ("" for anything but a string or a
    number): a newline in an event property would cut the line, a missing glyph show a box."""
    if not isinstance(value, (str, int, float)):
        return ""
    return printable(" ".join(str(value).split())).replace("'", "’")  # typographic apostrophes


def printable(text: str) -> str:
    """``text`` as the font can draw it, never with boxes.

    Symbols it lacks (emoji) are left out; a word in a script it lacks (CJK, Arabic…) becomes an
    ellipsis, and so does text left with nothing, so a user's name or a list entry never vanishes.
    """
    if all(has_glyph(char) for char in text):
        return text
    kept: list[str] = []
    for char in text:
        if has_glyph(char):
            kept.append(char)
        elif char.isalnum() and kept[-1:] != [ELLIPSIS]:
            kept.append(ELLIPSIS)
    return " ".join("".join(kept).split()) or ELLIPSIS


@lru_cache(maxsize=1024)
def text_mask(text: str, face: ImageFont.FreeTypeFont, anchor: str) -> tuple[Image.Image, int, int]:
    """Coverage mask of ``text`` and its offset from the anchor point."""
    left, top, right, bottom = (int(edge) for edge in face.getbbox(text, anchor=anchor))  # (whole pixels)
    mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=face, fill=255, anchor=anchor)
    return mask, left, top


class CardDraw(ImageDraw.ImageDraw):
    """ImageDraw whose ``text`` reuses glyph masks of strings drawn before.

    Rasterizing large type is most of a card's drawing time, and much of a card's text repeats
    from card to card (labels, headings, the app's name, popular artists), so masks are kept per
    (text, face, anchor) and only blended into each new card.
    """

    def __init__(self, image: Image.Image) -> None:
        super().__init__(image)
        self.target = image

    def text(self, xy: tuple[float, float], text: Any, fill: Any = None,
             font: Any = None, anchor: str | None = None, *args: Any, **kwargs: Any) -> None:
        if (args or kwargs or not isinstance(text, str) or not isinstance(font, ImageFont.FreeTypeFont)
                or not isinstance(fill, tuple)):
            return super().text(xy, text, fill, font, anchor, *args, **kwargs)
        mask, left, top = text_mask(text, font, anchor or "la")
        self.target.paste(fill, (round(xy[0]) + left, round(xy[1]) + top), mask)
        return None


def ellipsize(text: str, face: ImageFont.FreeTypeFont, max_width: float) -> str:
    """``text`` cut at a character boundary with an ellipsis so it fits ``max_width``."""
    if face.getlength(text) <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # binary search on the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if face.getlength(text[:mid].rstrip() + ELLIPSIS) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


def fit_font(text: str, weight: str, size: int, max_width: float, min_size: int) -> ImageFont.FreeTypeFont:
    """The largest size ≤ ``size`` (down to ``min_size``) at which ``text`` fits on one line."""
    face = font(weight, size)
    width = face.getlength(text)
    if width <= max_width:
        return face
    # Text width scales linearly with size, so one estimate lands on (or next to) the answer.
    guess = max(min_size, int(size * max_width / width))
    face = font(weight, guess)
    while guess > min_size and face.getlength(text) > max_width:
        guess -= 2
        face = font(weight, max(guess, min_size))
    return face


def wrap(text: str, face: ImageFont.FreeTypeFont, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines; the last one is ellipsized if needed."""
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    current = ""
    for index, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if face.getlength(candidate) <= max_width or not current:
            current = candidate
            continue
        if len(lines) == max_lines - 1:  # the last line takes the rest, to be ellipsized
            current = " ".join([current, *words[index:]])
            break
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return [ellipsize(line, face, max_width) for line in lines[:max_lines]]


def line_height(face: ImageFont.FreeTypeFont, leading: float = 1.12) -> int:
    return round(face.size * leading)


@lru_cache(maxsize=32)
def gradient_background(size: tuple[int, int], top: Color, bottom: Color, glow: Color,
                        glow2: Color, grain: bool = True) -> Image.Image:
    """A diagonal gradient with two soft colour glows and a fine grain, cached per theme.

    Drawn at an eighth of the size, blurred there, then scaled up: smooth gradients lose
    nothing when upscaled. The grain is there for the PNG encoder: cards are stored as
    256-colour palette images (see ``cards.encode_png``), and the noise dithers the gradient so it
    shows no bands after quantization (``grain=False`` leaves it out, for video). Callers must
    ``copy()`` the result before drawing on it.
    """
    width, height = size
    small = (max(width // 8, 2), max(height // 8, 2))
    vertical = Image.linear_gradient("L").resize(small, Image.Resampling.BILINEAR)
    horizontal = (Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90)
                  .resize(small, Image.Resampling.BILINEAR))
    ramp = ImageChops.add(vertical, horizontal, scale=2.0)
    base = Image.composite(Image.new("RGB", small, bottom), Image.new("RGB", small, top), ramp)
    sw, sh = small
    for colour, box, strength in ((glow, (sw * 0.35, -sh * 0.22, sw * 1.4, sh * 0.36), 200),
                                  (glow2, (-sw * 0.55, sh * 0.6, sw * 0.6, sh * 1.15), 170)):
        mask = Image.new("L", small, 0)
        ImageDraw.Draw(mask).ellipse(box, fill=strength)
        mask = mask.filter(ImageFilter.GaussianBlur(max(sw, sh) / 8))
        base = Image.composite(Image.new("RGB", small, colour), base, mask)
    full = base.resize(size, Image.Resampling.BICUBIC)
    if not grain:  # a video frame: H.264 keeps a smooth gradient smooth, and noise costs it bits
        return full
    return ImageChops.add(full, _dither_pattern(size), scale=1.0, offset=-DITHER_AMPLITUDE)


# A 4×4 ordered-dither (Bayer) pattern. Random grain dithers as well but leaves deflate nothing to
# match; a regular pattern keeps the PNG small and quick to compress.
BAYER_4 = (0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5)
DITHER_AMPLITUDE = 4


@lru_cache(maxsize=4)
def _dither_pattern(size: tuple[int, int]) -> Image.Image:
    cell = Image.frombytes("L", (4, 4), bytes(round(v * 2 * DITHER_AMPLITUDE / 15) for v in BAYER_4))
    tiled = Image.new("L", size)
    for x in range(0, size[0], 4):
        tiled.paste(cell, (x, 0))
    strip = tiled.crop((0, 0, size[0], 4))
    for y in range(0, size[1], 4):
        tiled.paste(strip, (0, y))
    return Image.merge("RGB", (tiled, tiled, tiled))


def rounded_panel(image: Image.Image, box: tuple[int, int, int, int], fill: Color, opacity: float,
                  radius: int) -> None:
    """Blend a translucent rounded rectangle into ``image`` (only the box is composited)."""
    x0, y0, x1, y1 = box
    region = image.crop(box)
    mask = Image.new("L", region.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, x1 - x0 - 1, y1 - y0 - 1), radius=radius,
                                           fill=round(255 * opacity))
    region.paste(Image.new("RGB", region.size, fill), (0, 0), mask)
    image.paste(region, (x0, y0))


@lru_cache(maxsize=16)
def disc_mask(diameter: int) -> Image.Image:
    """An anti-aliased filled circle: drawn at 4× and scaled down, since PIL's ellipses are not
    anti-aliased. Cached: the same few sizes are used on every card."""
    big = Image.new("L", (diameter * 4, diameter * 4), 0)
    ImageDraw.Draw(big).ellipse((0, 0, diameter * 4 - 1, diameter * 4 - 1), fill=255)
    return big.resize((diameter, diameter), Image.Resampling.LANCZOS)


def circle_photo(photo: Image.Image, diameter: int, ring: Color, ring_width: int) -> Image.Image:
    """``photo`` centre-cropped to a circle of ``diameter`` with a coloured ring, as RGBA."""
    side = min(photo.size)
    left, top = (photo.width - side) // 2, (photo.height - side) // 2
    inner = diameter - 2 * ring_width
    # reducing_gap: shrink by whole factors first, then filter; same look, a fraction of the time.
    square = photo.convert("RGB").resize((inner, inner), Image.Resampling.BICUBIC,
                                         box=(left, top, left + side, top + side), reducing_gap=2.0)
    out = Image.new("RGBA", (diameter, diameter), ring + (0,))
    out.putalpha(disc_mask(diameter))
    out.paste(square, (ring_width, ring_width), disc_mask(inner))
    return out
