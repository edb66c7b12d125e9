"""The fonts text is drawn in, in the order they are tried: Manrope, then Debian's Noto families
(fonts-noto-core, fonts-noto-cjk and fonts-noto-color-emoji) that are installed. Cards and videos
draw with these files glyph by glyph (share/glyphs.py); the web pages serve slices of them
(assets/noto.py), so a name is drawn in the same faces on a card and in the player.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont

from .fonts import FONT_DIR

NOTO_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))
# The Noto families after Manrope, in the order they are tried; each file's bold or regular cut.
# CJK comes last: reading its map of 45,000 characters takes most of a second, which a card with
# an arrow or an emoji (found before it) never has to wait for.
CHAIN = ("NotoSans", "NotoSansArabic", "NotoSansHebrew", "NotoSansDevanagari", "NotoSansBengali",
         "NotoSansTamil", "NotoSansThai", "NotoSansArmenian", "NotoSansGeorgian", "NotoSansSymbols",
         "NotoSansSymbols2", "NotoColorEmoji", "NotoSansCJK")

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
