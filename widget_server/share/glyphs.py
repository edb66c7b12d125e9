"""Text in any script on cards and videos: a chain of fonts tried glyph by glyph.

Manrope (the cards' face) draws Latin, Greek and Cyrillic; each character it lacks is drawn in the
first Noto family of the chain that has it (Debian's fonts-noto-core, fonts-noto-cjk and
fonts-noto-color-emoji): Arabic and Hebrew shaped right to left by raqm, Devanagari, Thai, Chinese,
Japanese, Korean, emoji. A text is cut into runs of one font each; a character every font of the
run has (a space, a digit, a comma) stays in the run it is in. Text Manrope covers whole is drawn
by Manrope alone, exactly as before there was a chain.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont
from PIL import Image, ImageDraw, ImageFont

from ..assets.fonts import FONT_DIR

NOTO_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))
# The Noto families after Manrope, in the order they are tried; each file's bold or regular cut.
# CJK comes last: reading its map of 45,000 characters takes most of a second, which a card with
# an arrow or an emoji (found before it) never has to wait for.
CHAIN = ("NotoSans", "NotoSansArabic", "NotoSansHebrew", "NotoSansDevanagari", "NotoSansBengali",
         "NotoSansTamil", "NotoSansThai", "NotoSansArmenian", "NotoSansGeorgian", "NotoSansSymbols",
         "NotoSansSymbols2", "NotoColorEmoji", "NotoSansCJK")
EMOJI_SIZE = 109  # the one size the colour emoji font has its bitmaps at
RIGHT_TO_LEFT = ("NotoSansArabic", "NotoSansHebrew")
# Marks and joiners belong to the character before them, whatever font has them.
JOINERS = {"\u200d", "\u200c", "\ufe0f", "\ufe0e"}


@dataclass(frozen=True)
class Font:
    """One font file of the chain (a TrueType collection's first face: CJK's Japanese forms)."""

    family: str
    path: Path

    @property
    def emoji(self) -> bool:
        return self.family == "NotoColorEmoji"


def _bold(weight: str) -> bool:
    return weight in ("ExtraBold", "Bold", "SemiBold")


@cache
def chain(weight: str) -> tuple[Font, ...]:
    """Manrope's ``weight``, then the Noto families that are installed, bold or regular to match."""
    fonts = [Font("Manrope", FONT_DIR / f"Manrope-{weight}.ttf")]
    cut = "Bold" if _bold(weight) else "Regular"
    for family in CHAIN:
        for folder in NOTO_DIRS:
            names = [f"{family}-{cut}.ttf", f"{family}-Regular.ttf", f"{family}-{cut}.ttc", f"{family}.ttf"]
            found = next((folder / n for n in names if (folder / n).is_file()), None)
            if found:
                fonts.append(Font(family, found))
                break
    return tuple(fonts)


@cache
def coverage(font: Font) -> frozenset[int]:
    """The code points a font maps to a glyph."""
    if font.path.suffix == ".ttc":
        face = TTCollection(str(font.path), lazy=True).fonts[0]
    else:
        face = TTFont(str(font.path), lazy=True)
    try:
        return frozenset(face.getBestCmap() or {})
    finally:
        face.close()


@lru_cache(maxsize=512)
def face(font: Font, size: int) -> ImageFont.FreeTypeFont:
    """The font loaded at ``size`` (Manrope with Pillow's basic layout, as cards always drew it;
    the others with raqm, which shapes Arabic and Indic scripts)."""
    if font.family == "Manrope":
        return ImageFont.truetype(str(font.path), size, layout_engine=ImageFont.Layout.BASIC)
    return ImageFont.truetype(str(font.path), EMOJI_SIZE if font.emoji else size, index=0,
                              layout_engine=ImageFont.Layout.RAQM)


def font_for(char: str, weight: str) -> Font | None:
    """The first font of the chain with ``char``; None when no font has it."""
    code = ord(char)
    return next((f for f in chain(weight) if code in coverage(f)), None)


def runs(text: str, weight: str) -> list[tuple[Font, str]]:
    """``text`` cut into runs, each drawn in one font of the chain (characters no font has are
    left to Manrope, which the caller has already made sure cannot happen: drawing.printable)."""
    out: list[tuple[Font, str]] = []
    for char in text:
        if out and (char in JOINERS or unicodedata.category(char).startswith("M")
                    or (not char.isalpha() and ord(char) in coverage(out[-1][0]))):
            out[-1] = (out[-1][0], out[-1][1] + char)
            continue
        font = font_for(char, weight) or chain(weight)[0]
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + char)
        else:
            out.append((font, char))
    return out


@dataclass(frozen=True)
class Piece:
    """A run measured: its font at the size, how wide it is, and where it draws (from its pen
    position on the baseline)."""

    font: Font
    text: str
    width: float
    box: tuple[int, int, int, int]  # left, top, right, bottom from the pen on the baseline


@lru_cache(maxsize=2048)
def pieces(text: str, weight: str, size: int) -> tuple[Piece, ...]:
    out = []
    for font, part in runs(text, weight):
        loaded = face(font, size)
        direction = "rtl" if font.family in RIGHT_TO_LEFT else None
        if font.emoji:  # the bitmaps, brought to the text's size and sat on the baseline
            width = float(_emoji(part, size).width)
            left, top, right, bottom = 0, -round(size * 0.92), round(width), round(size * 0.16)
        else:
            width = loaded.getlength(part, direction=direction)
            left, top, right, bottom = (int(e) for e in loaded.getbbox(part, anchor="ls", direction=direction))
        out.append(Piece(font, part, width, (int(left), int(top), int(right), int(bottom))))
    return tuple(out)


def length(text: str, weight: str, size: int) -> float:
    return sum(p.width for p in pieces(text, weight, size))


def baseline_offset(anchor: str, primary: ImageFont.FreeTypeFont, width: float) -> tuple[float, float]:
    """Where the baseline's start is from the anchor point, as Pillow places Manrope's text: the
    horizontal part (l, m, r) from the width, the vertical (a, m, s, d) from Manrope's metrics."""
    ascent, descent = primary.getmetrics()
    x = {"l": 0.0, "m": -width / 2, "r": -width}[anchor[0]]
    y = {"a": ascent, "t": ascent, "m": (ascent - descent) / 2, "s": 0, "b": -descent, "d": -descent}[anchor[1]]
    return x, float(y)


def _in_order(text: str, weight: str, size: int, rtl: bool) -> tuple[Piece, ...]:
    """The runs as they are laid out from the left: in a right-to-left line the first run is
    rightmost ("ليلى ♥ Björk": Björk, the heart, then the name), each drawn in its own direction."""
    drawn = pieces(text, weight, size)
    return drawn[::-1] if rtl else drawn


def bbox(text: str, weight: str, size: int, anchor: str, rtl: bool = False) -> tuple[int, int, int, int]:
    """The box ``text`` draws in, from the anchor point (as FreeTypeFont.getbbox answers)."""
    drawn = _in_order(text, weight, size, rtl)
    x0, y0 = baseline_offset(anchor, face(chain(weight)[0], size), sum(p.width for p in drawn))
    boxes, pen = [], x0
    for p in drawn:
        boxes.append((pen + p.box[0], y0 + p.box[1], pen + p.box[2], y0 + p.box[3]))
        pen += p.width
    return (int(min(b[0] for b in boxes)), int(min(b[1] for b in boxes)),
            int(max(b[2] for b in boxes)) + 1, int(max(b[3] for b in boxes)) + 1)


def mask(text: str, weight: str, size: int, anchor: str, rtl: bool = False) -> tuple[Image.Image, int, int]:
    """The coverage mask of ``text`` in the chain's fonts, and its offset from the anchor point."""
    left, top, right, bottom = bbox(text, weight, size, anchor, rtl)
    out = Image.new("L", (max(right - left, 1), max(bottom - top, 1)), 0)
    drawn = _in_order(text, weight, size, rtl)
    x0, y0 = baseline_offset(anchor, face(chain(weight)[0], size), sum(p.width for p in drawn))
    pen = x0
    for p in drawn:
        loaded = face(p.font, size)
        if p.font.emoji:
            out.paste(_emoji(p.text, size), (round(pen - left), round(y0 + p.box[1] - top)),
                      _emoji(p.text, size))
        else:
            ImageDraw.Draw(out).text((pen - left, y0 - top), p.text, font=loaded, fill=255, anchor="ls",
                                     direction="rtl" if p.font.family in RIGHT_TO_LEFT else None)
        pen += p.width
    return out, left, top


@lru_cache(maxsize=256)
def _emoji(text: str, size: int) -> Image.Image:
    """Colour emoji as a shape in the text's colour (cards tint every text), at the text's size."""
    font = next(f for f in chain("Bold") if f.emoji)
    loaded = face(font, size)
    left, top, right, bottom = (int(e) for e in loaded.getbbox(text))
    art = Image.new("RGBA", (max(right - left, 1), max(bottom - top, 1)), (0, 0, 0, 0))
    ImageDraw.Draw(art).text((-left, -top), text, font=loaded, embedded_color=True)
    shape = art.getchannel("A")
    height = round(size * 1.08)
    return shape.resize((max(1, round(shape.width * height / shape.height)), height), Image.Resampling.LANCZOS)
