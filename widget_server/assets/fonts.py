"""Manrope as WOFF2 files split by script, subset from the packaged variable TTF once per machine.

The whole TTF (165 KB) was most of the embed page's weight. Split as Google Fonts splits its
families (the same unicode-range blocks, with their Latin block cut in two: ASCII and the
punctuation stories use, 14 KB, then the rest of Latin-1), a page fetches the first file and
only the other blocks its text uses; one variable file per block covers every weight the player
and the share page draw (400 to 800), so both pages share the same files in the browser's cache.
Only the layout features a browser applies by itself are kept, and the tabular figures the
player's numbers ask for (the rest, fractions and alternates, cost a third of the file).
Built from ``font_manrope``'s own file with fontTools (nothing is downloaded and no build step is
needed at install), once per machine: the files are kept in a cache folder (``CACHE_DIR``) named
by a hash of everything they are made from, so each later process (every gunicorn worker, every
restart, every CLI) reads them instead of spending seconds building them before its first page.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import font_manrope
import fontTools
from fontTools.ttLib import TTFont

log = logging.getLogger(__name__)

FONT_DIR = Path(font_manrope.__file__).parent / "files"
VARIABLE = FONT_DIR / "Manrope-VariableFont_wght.ttf"
# Where built files are kept for every process of this machine's user (RECAP_FONT_CACHE, else the
# user's cache folder). A folder that cannot be written only means each process builds its own.
CACHE_DIR = Path(os.environ.get("RECAP_FONT_CACHE")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "recap" / "fonts")
WEIGHTS = (400, 800)  # the wght axis kept: what the player and the share page draw (400: text left at normal)
# The weights each face of the pages' families is declared for, Manrope's file twice (one URL,
# fetched once). A browser picks the faces of a weight by their font-weight first and only then
# looks at their unicode-ranges: Noto's regular and bold cuts (noto.py) are drawn beside
# Manrope only when their faces are declared for the same weights as Manrope's.
FACE_WEIGHTS = ("400 599", "600 800")
# What browsers apply without being asked (kerning, ligatures, marks, contextual forms), and the
# tabular figures of the player's stats (font-variant-numeric: tabular-nums).
LAYOUT_FEATURES = ["kern", "liga", "clig", "calt", "ccmp", "locl", "mark", "mkmk", "rlig", "rvrn", "tnum"]

# What a first frame in English needs: ASCII and the punctuation stories use (quotes, dashes,
# the ellipsis, the middle dot), preloaded by the pages; a 400 kbps link brings it in 0.3 s.
BASIC_LATIN = "U+0000-007F, U+00A0, U+00B7, U+2013-2014, U+2018-2019, U+201C-201D, U+2022, U+2026"
# Google Fonts' Latin block.
LATIN = ("U+0000-00FF, U+0131, U+0152-0153, U+02BB-02BC, U+02C6, U+02DA, U+02DC, U+0304, U+0308, "
         "U+0329, U+2000-206F, U+20AC, U+2122, U+2191, U+2193, U+2212, U+2215, U+FEFF, U+FFFD")


def code_points(unicode_range: str) -> set[int]:
    points: set[int] = set()
    for part in unicode_range.split(","):
        first, _, last = part.strip().removeprefix("U+").partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return points


def range_text(points: set[int]) -> str:
    """``points`` as a unicode-range value, runs of consecutive points as one span."""
    spans: list[list[int]] = []
    for point in sorted(points):
        if spans and spans[-1][1] == point - 1:
            spans[-1][1] = point
        else:
            spans.append([point, point])
    return ", ".join(f"U+{a:04X}" if a == b else f"U+{a:04X}-{b:04X}" for a, b in spans)


# The blocks, in the order a browser should prefer them (Latin first). No two overlap: of two
# faces covering a character, a browser takes the one declared last, which would split Latin text
# between the files.
SCRIPTS = (
    ("latin", BASIC_LATIN),
    ("latin-supplement", range_text(code_points(LATIN) - code_points(BASIC_LATIN))),
    ("latin-ext", "U+0100-02BA, U+02BD-02C5, U+02C7-02CC, U+02CE-02D7, U+02DD-02FF, U+0304, U+0308, U+0329, "
                  "U+1D00-1DBF, U+1E00-1E9F, U+1EF2-1EFF, U+2020, U+20A0-20AB, U+20AD-20C0, U+2113, "
                  "U+2C60-2C7F, U+A720-A7FF"),
    ("cyrillic-ext", "U+0460-052F, U+1C80-1C8A, U+20B4, U+2DE0-2DFF, U+A640-A69F, U+FE2E-FE2F"),
    ("cyrillic", "U+0301, U+0400-045F, U+0490-0491, U+04B0-04B1, U+2116"),
    ("greek", "U+0370-0377, U+037A-037F, U+0384-038A, U+038C, U+038E-03A1, U+03A3-03FF"),
    ("vietnamese", "U+0102-0103, U+0110-0111, U+0128-0129, U+0168-0169, U+01A0-01A1, U+01AF-01B0, U+0300-0301, "
                   "U+0303-0304, U+0308-0309, U+0323, U+0329, U+1EA0-1EF9, U+20AB"),
)

# The fallback drawn until Manrope arrives, sized to take Manrope's room so text moves as little
# as possible when it swaps in: Arial (Liberation Sans and Arimo are metric-compatible with it)
# in two faces, each scaled so SAMPLE is as wide as in the Manrope weight it stands in for.
# (weights, local names, Arial's mean advance of SAMPLE in ems, the Manrope face to match)
SAMPLE = "Your year in music You listened for 12,345 minutes Your top artists The Night Owl"
FALLBACKS = (
    ("200 599", ("Arial", "ArialMT", "Liberation Sans", "Arimo", "Helvetica"), 0.44740, "Manrope-Medium.ttf"),
    ("600 800", ("Arial Bold", "Arial-BoldMT", "Liberation Sans Bold", "Arimo Bold", "Helvetica Bold"), 0.48021,
     "Manrope-ExtraBold.ttf"),
)


@dataclass(frozen=True)
class FontFile:
    """One script's WOFF2 file and the code points it is used for."""

    script: str
    unicode_range: str
    woff2: bytes

    @property
    def name(self) -> str:
        return f"manrope-{self.script}.woff2"


def _subset(script: str, unicode_range: str) -> FontFile | None:
    """The script's file: from the cache when it was built before from the same inputs."""
    source = VARIABLE.read_bytes()
    recipe = "|".join([hashlib.sha256(source).hexdigest(), fontTools.version, unicode_range,
                       ",".join(LAYOUT_FEATURES), repr(WEIGHTS)])
    cached = CACHE_DIR / f"manrope-{script}-{hashlib.sha256(recipe.encode()).hexdigest()[:20]}.woff2"
    try:
        kept = cached.read_bytes()
        if kept.startswith(b"wOF2"):  # (anything else, say a file someone truncated, is built again)
            return FontFile(script, unicode_range, kept)
    except OSError:
        pass
    woff2 = _build_subset(source, unicode_range)
    if woff2 is not None:
        keep(cached, woff2)
    return FontFile(script, unicode_range, woff2) if woff2 is not None else None


def _build_subset(source: bytes, unicode_range: str) -> bytes | None:
    from fontTools import subset  # (only a build needs these: a cached file is read without them)
    from fontTools.varLib import instancer

    font = TTFont(io.BytesIO(source), recalcTimestamp=False)  # the same bytes, so the same URL, in every process
    wanted = code_points(unicode_range) & set(font.getBestCmap())
    if not wanted:
        return None
    options = subset.Options()
    options.layout_features = LAYOUT_FEATURES
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    font = instancer.instantiateVariableFont(font, {"wght": WEIGHTS})
    font.flavor = "woff2"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def keep(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole (a temporary file renamed), or not at all."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".building-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("font cache %s not written: %s", path.parent, exc)


_built: tuple[FontFile, ...] | None = None
_building = threading.Lock()


def font_files() -> tuple[FontFile, ...]:
    """Every script Manrope has, Latin first; the first call reads them from the cache, or
    builds them (seconds) when no process of this machine has yet.

    Made once per process: callers that come meanwhile (the start-up thread, a worker's first
    requests) wait for that build instead of each making its own, which on a busy machine made
    a fresh server's first pages wait 18 s instead of 2.
    """
    global _built
    if _built is None:
        with _building:
            if _built is None:
                _built = tuple(f for f in (_subset(script, ranges) for script, ranges in SCRIPTS) if f)
    return _built


def _forked() -> None:
    # A build under way when a server forks its workers holds the lock in each child, where no
    # thread will release it: the child starts with a lock of its own (and builds on first use).
    global _building
    _building = threading.Lock()


os.register_at_fork(after_in_child=_forked)


@cache
def fallback_overrides(manrope_face: str, local_advance: float) -> str:
    """The descriptors that give a local face ``manrope_face``'s width and line box."""
    font = TTFont(FONT_DIR / manrope_face)
    cmap, advances, em = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    scale = sum(advances[cmap[ord(c)]][0] for c in SAMPLE) / len(SAMPLE) / em / local_advance
    hhea = font["hhea"]
    return (f"size-adjust: {scale:.2%}; ascent-override: {hhea.ascent / em / scale:.2%}; "
            f"descent-override: {-hhea.descent / em / scale:.2%}; line-gap-override: {hhea.lineGap / em / scale:.2%};")


def font_faces(family: str, url: Callable[[str], str]) -> str:
    """The @font-face rules of ``family`` (one per script and FACE_WEIGHTS, ``url`` naming each file
    by its name) and of
    ``family + " Fallback"``, the size-matched local face to list right after it."""
    rules = [f'@font-face {{ font-family: "{family}"; font-style: normal; font-weight: {weights}; '
             f'font-display: swap; src: url("{url(f.name)}") format("woff2"); unicode-range: {f.unicode_range}; }}'
             for f in font_files() for weights in FACE_WEIGHTS]
    for weights, names, advance, face in FALLBACKS:
        local = ", ".join(f'local("{name}")' for name in names)
        rules.append(f'@font-face {{ font-family: "{family} Fallback"; font-weight: {weights}; src: {local}; '
                     f'{fallback_overrides(face, advance)} }}')
    return "\n".join(rules) + "\n"
