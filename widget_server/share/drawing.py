"""Drawing helpers for cards: the bundled fonts, theme colours, text fitting and backgrounds."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeGuard

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from ..engine.contrast import AA_LARGE
from ..engine.contrast import ratio as contrast
from . import glyphs

Color = tuple[int, int, int]

# Manrope (SIL Open Font License) ships as a Python package (FONT_DIR), so cards look the same on
# every machine; the scripts it lacks come from Debian's Noto packages, glyph by glyph (glyphs.py).
WEIGHTS = ("ExtraBold", "Bold", "SemiBold", "Medium", "Regular")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Face:
    """Manrope's ``weight`` at ``size`` pixels with the Noto chain behind it: measured and drawn
    (by CardDraw) as one font, each glyph from the first font that has it."""

    weight: str
    size: int

    @property
    def manrope(self) -> ImageFont.FreeTypeFont:
        return glyphs.face(glyphs.chain(self.weight)[0], self.size)

    def getlength(self, text: str) -> float:
        if _manrope_alone(text):
            return float(self.manrope.getlength(text))
        return glyphs.length(text, self.weight, self.size)

    def getbbox(self, text: str, anchor: str = "la") -> tuple[int, int, int, int]:
        if _manrope_alone(text):
            left, top, right, bottom = self.manrope.getbbox(text, anchor=anchor)
            return int(left), int(top), int(right), int(bottom)
        return glyphs.bbox(text, self.weight, self.size, anchor)


@lru_cache(maxsize=128)
def font(weight: str, size: int) -> Face:
    """The face of ``weight`` at ``size`` pixels (its fonts loaded once per process)."""
    if weight not in WEIGHTS:
        raise ValueError(f"unknown font weight {weight!r}")
    return Face(weight, size)


def _manrope_alone(text: str) -> bool:
    return all(has_glyph(char) for char in text)


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
def drawable(char: str) -> bool:
    """Whether any font of the chain draws ``char`` (Manrope, else a Noto family)."""
    return char.isspace() or has_glyph(char) or glyphs.font_for(char, "Bold") is not None


@lru_cache(maxsize=4096)
def _mask_bytes(char: str) -> bytes:
    face = font("Bold", 32).manrope
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
    """``text`` as the fonts can draw it, never with boxes.

    Every script a font of the chain has is kept (glyphs.py); where none has a character, a symbol
    is left out and a word becomes an ellipsis, and so does text left with nothing, so a user's
    name or a list entry never vanishes.
    """
    if all(drawable(char) for char in text):
        return text
    kept: list[str] = []
    for char in text:
        if drawable(char):
            kept.append(char)
        elif char.isalnum() and kept[-1:] != [ELLIPSIS]:
            kept.append(ELLIPSIS)
    return " ".join("".join(kept).split()) or ELLIPSIS


@lru_cache(maxsize=1024)
def text_mask(text: str, face: Face, anchor: str, rtl: bool = False) -> tuple[Image.Image, int, int]:
    """Coverage mask of ``text`` and its offset from the anchor point; ``rtl``: the text's runs of
    one script read from the right (a right-to-left card's line mixing Arabic and Latin)."""
    if not _manrope_alone(text):
        return glyphs.mask(text, face.weight, face.size, anchor, rtl)
    manrope = face.manrope
    left, top, right, bottom = (int(edge) for edge in manrope.getbbox(text, anchor=anchor))  # (whole pixels)
    mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=manrope, fill=255, anchor=anchor)
    return mask, left, top


class CardDraw(ImageDraw.ImageDraw):
    """ImageDraw whose ``text`` draws a Face (every script, glyph by glyph) and reuses glyph
    masks of strings drawn before.

    Rasterizing large type is most of a card's drawing time, and much of a card's text repeats
    from card to card (labels, headings, the app's name, popular artists), so masks are kept per
    (text, face, anchor) and only blended into each new card.

    A ``mirrored`` draw (a card in a right-to-left language) lays everything out from the right:
    the layout code places things as for a left-to-right card, and ``text`` (its x and its anchor),
    ``box`` and ``paste`` turn that about the vertical axis. Texts themselves are not mirrored,
    only where they start: Arabic still reads from its right, a Latin name from its left.
    """

    def __init__(self, image: Image.Image, mirrored: bool = False) -> None:
        super().__init__(image)
        self.target = image
        self.mirrored = mirrored

    def box(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A left-to-right layout's box, where it goes on this card."""
        x0, y0, x1, y1 = box
        return (self.target.width - x1, y0, self.target.width - x0, y1) if self.mirrored else box

    def paste(self, image: Image.Image, xy: tuple[int, int]) -> None:
        """``image`` with its top left corner at a left-to-right layout's ``xy`` (its alpha as the mask)."""
        x = self.target.width - xy[0] - image.width if self.mirrored else xy[0]
        self.target.paste(image, (x, xy[1]), image if image.mode in ("RGBA", "LA") else None)

    def text(self, xy: tuple[float, float], text: Any, fill: Any = None,
             font: Any = None, anchor: str | None = None, *args: Any, **kwargs: Any) -> None:
        if not isinstance(font, Face) or args or kwargs or not isinstance(text, str):
            return super().text(xy, text, fill, font, anchor, *args, **kwargs)
        anchor = anchor or "la"
        if self.mirrored:
            xy = (self.target.width - xy[0], xy[1])
            anchor = {"l": "r", "r": "l"}.get(anchor[0], anchor[0]) + anchor[1]
        mask, left, top = text_mask(text, font, anchor, self.mirrored)
        self.target.paste(fill, (round(xy[0]) + left, round(xy[1]) + top), mask)
        return None


def ellipsize(text: str, face: Face, max_width: float) -> str:
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


def fit_font(text: str, weight: str, size: int, max_width: float, min_size: int) -> Face:
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


def wrap(text: str, face: Face, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines; the last one is ellipsized if needed.
    Chinese and Japanese (written without spaces) may break between any two wide characters."""
    tokens = _tokens(text)
    lines: list[str] = []
    current = ""
    for index, (space, token) in enumerate(tokens):
        candidate = f"{current}{space}{token}" if current else token
        if face.getlength(candidate) <= max_width or not current:
            current = candidate
            continue
        if len(lines) == max_lines - 1:  # the last line takes the rest, to be ellipsized
            current = current + "".join(f"{s}{t}" for s, t in tokens[index:])
            break
        lines.append(current)
        current = token
    if current:
        lines.append(current)
    return [ellipsize(line, face, max_width) for line in lines[:max_lines]]


def _tokens(text: str) -> list[tuple[str, str]]:
    """``text`` as (the space before, a word) pairs, each wide character a word of its own."""
    out: list[tuple[str, str]] = []
    for i, word in enumerate(text.split()):
        space, part = " " if i else "", ""
        for char in word:
            if unicodedata.east_asian_width(char) in ("W", "F"):
                if part:
                    out.append((space, part))
                    space, part = "", ""
                out.append((space, char))
                space = ""
            else:
                part += char
        if part:
            out.append((space, part))
    return out


def line_height(face: Face, leading: float = 1.12) -> int:
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
