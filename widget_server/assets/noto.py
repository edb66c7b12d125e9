"""The scripts Manrope lacks on the web pages: the cards' Noto families as WOFF2 slices, each built
on its first request.

The same files, in the same order, as cards and videos draw with (font_chain.py): each code
point outside Manrope's blocks goes to the first Noto family of the chain that has it, and is
declared as another @font-face of the pages' family, with a unicode-range that overlaps no other
face (of two faces covering a character, a browser takes the one declared last). A browser
fetches only the slices its text touches: an English page none.

Each family's code points are cut into slices: a small script's blocks packed together (Arabic,
Hebrew, Devanagari, Thai... are a file each, of 5 to 45 KB); the Chinese characters and Hangul of
the CJK collection (43,000 of them, 20 MB) in fixed windows of 128 code points (8 to 40 KB), and
its kana and CJK punctuation in one slice, so a Japanese name costs a few slices, not megabytes.
The faces of CJK and of the symbol sets (hundreds of windows, ranges that are long lists) are
declared in a stylesheet of their own, which a page adds when its text has a character none of
its own faces is for (js/shared/more_faces.js): in every page they would cost the English ones
about 5 KB; the others, about 560 bytes.

Nothing is built at start-up: the rules and their URLs follow from the recipe (the source
files' hashes, fontTools' version, the ranges and the features kept), and each file is made
when a browser first asks for it (a CJK slice in about a second), kept in the per-machine
cache beside Manrope's files, and read from there by every later process.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import fontTools
from fontTools import unicodedata
from fontTools.ttLib import TTFont

from . import font_chain, fonts

# Code points per slice of the ideograph and Hangul blocks that are filled (CJK Unified
# Ideographs and its Extension A, Hangul Syllables: 8 to 40 KB a slice), and of the sparse
# ones (the later extensions, where a window of 1,024 holds a few dozen of the collection's).
WINDOW = 128
SPARSE_WINDOW = 1024
FILLED = ("CJK Unified Ideographs", "CJK Unified Ideographs Extension A", "Hangul Syllables")
# The most code points of a small script's file; consecutive blocks of a family are packed
# into one file up to it (Arabic's own blocks, which shape together, stay in one).
PACK = 512
# What a Japanese text needs beside its Chinese characters, in one file of its own (the
# collection's other blocks, box drawing or squared words, would come with it otherwise).
KANA = ("CJK Symbols and Punctuation", "Hiragana", "Katakana", "Katakana Phonetic Extensions",
        "Halfwidth and Fullwidth Forms")
# The scripts whose characters are cut in fixed windows.
IDEOGRAPH_SCRIPTS = ("Hani", "Hang")
# The families declared in the stylesheet of more faces, which a page adds when its text needs
# it (the hundreds of CJK windows, and the symbol sets, whose ranges are long lists): in every
# page they would cost an English one 5 KB.
MORE_FACES = ("NotoSansSymbols", "NotoSansSymbols2", "NotoSansCJK")
# The features fontTools' subsetter keeps by default, which are those a browser applies itself
# (a script's shaping: Arabic's joining forms, Indic conjuncts, Hangul's jamo), less the vertical
# forms no page draws (with every feature kept, the kana file was 116 KB, not 40); the hinting
# left out, as Google Fonts serves Noto.
FEATURES = ["BUZZ", "Buzz", "HARF", "Harf", "abvf", "abvm", "abvs", "akhn", "blwf", "blwm", "blws", "calt",
            "ccmp", "cfar", "chws", "cjct", "clig", "cswh", "curs", "dist", "dnom", "fin2", "fin3", "fina",
            "frac", "half", "haln", "halt", "init", "isol", "jalt", "kern", "liga", "ljmo", "locl", "ltra",
            "ltrm", "mark", "med2", "medi", "mkmk", "mset", "nukt", "numr", "palt", "pref", "pres", "pstf",
            "psts", "rand", "rclt", "rkrf", "rlig", "rphf", "rtla", "rtlm", "rvrn", "stch", "tjmo", "vatu",
            "vjmo"]
# Left to the device: a colour emoji font is on every phone, and Noto's (10 MB of bitmaps) draws
# in neither Safari nor Firefox on macOS.
LEFT_TO_DEVICE = ("NotoColorEmoji",)
WEIGHTS = dict(zip(("Regular", "Bold"), fonts.FACE_WEIGHTS, strict=True))


@dataclass(frozen=True)
class Slice:
    """The code points of one family that one file of each of its cuts holds."""

    name: str                 # "arabic", "cjk-4e00" (a window by its first code point)
    family: str               # of the chain: "NotoSansArabic"
    points: frozenset[int]    # what the file maps
    unicode_range: str        # what its face is declared for: ``points``, with the gaps no face claims
    more: bool                # declared in the stylesheet of more faces, not in the page's


@dataclass(frozen=True)
class Cut:
    """One WOFF2 file: a slice in one of its family's files."""

    slice: Slice
    source: Path
    weights: tuple[str, ...]  # ("400 599",), ("600 800",), or both for a family with one cut

    @property
    def name(self) -> str:
        suffix = "-bold" if self.weights == (WEIGHTS["Bold"],) else ""
        return f"noto-{self.slice.name}{suffix}.woff2"

    @property
    def recipe(self) -> str:
        return "|".join([_source_hash(self.source), fontTools.version, self.slice.unicode_range,
                         ",".join(FEATURES)])


def _short(family: str) -> str:
    return family.removeprefix("NotoSans").lower() or "sans"


def _windows(points: list[int]) -> Iterator[list[int]]:
    """Ideographs or Hangul in fixed windows of code points."""
    out: dict[int, list[int]] = {}
    for point in points:
        size = WINDOW if unicodedata.block(chr(point)) in FILLED else SPARSE_WINDOW
        out.setdefault(point // size * size, []).append(point)
    yield from out.values()


def _packed(points: list[int]) -> Iterator[list[int]]:
    """A family's other code points by block, consecutive blocks together up to PACK."""
    blocks: dict[str, list[int]] = {}
    for point in points:
        blocks.setdefault(unicodedata.block(chr(point)), []).append(point)
    current: list[int] = []
    for block in blocks.values():
        if current and len(current) + len(block) > PACK:
            yield current
            current = []
        current = current + block
    if current:
        yield current


def manrope_points() -> frozenset[int]:
    """Every code point Manrope's faces are declared for (whether or not it has them)."""
    return frozenset().union(*(fonts.code_points(ranges) for _, ranges in fonts.SCRIPTS))


@cache
def slices() -> tuple[Slice, ...]:
    """Every slice, in the chain's order (reads each family's map, not its glyphs)."""
    chain = font_chain.chain("Regular")[1:]
    taken = set(manrope_points()).union(*(font_chain.coverage(f) for f in chain if f.family in LEFT_TO_DEVICE))
    groups: list[tuple[str, str, list[int]]] = []  # name, family, code points
    for font in chain:
        points = sorted(font_chain.coverage(font) - taken)
        taken |= set(points)
        if font.family in LEFT_TO_DEVICE or not points:
            continue
        short = _short(font.family)
        if font.family == "NotoSansCJK":
            ideographs = [p for p in points if unicodedata.script(chr(p)) in IDEOGRAPH_SCRIPTS]
            kana = [p for p in set(points) - set(ideographs) if unicodedata.block(chr(p)) in KANA]
            groups += [(f"{short}-{w[0]:x}", font.family, w) for w in _windows(ideographs)]
            groups.append(("kana", font.family, sorted(kana)))
            points = sorted(set(points) - set(ideographs) - set(kana))
        packed = list(_packed(points))
        groups += [(short if len(packed) == 1 else f"{short}-{g[0]:x}", font.family, g) for g in packed]
    claimed = sorted(taken)
    return tuple(Slice(name, family, frozenset(group), _declared(group, claimed), family in MORE_FACES)
                 for name, family, group in groups)


def _declared(points: list[int], claimed: list[int]) -> str:
    """``points`` as a unicode-range, two neighbours joined when nothing between them is claimed
    by another face (the gaps are characters no font of the chain has: nothing to take from
    another face, and a range of a few spans instead of hundreds)."""
    spans: list[list[int]] = []
    for point in points:
        if spans and bisect_right(claimed, point - 1) - bisect_right(claimed, spans[-1][1]) == 0:
            spans[-1][1] = point
        else:
            spans.append([point, point])
    return ",".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in spans)


@cache
def cuts() -> tuple[Cut, ...]:
    """Every file: each slice in its family's regular and bold cuts (one file for a family with
    one cut), a slice's cuts together."""
    files = {weight: {f.family: f.path for f in font_chain.chain(weight)} for weight in WEIGHTS}
    out = []
    for piece in slices():
        regular, bold = files["Regular"][piece.family], files["Bold"][piece.family]
        if regular == bold:
            out.append(Cut(piece, regular, fonts.FACE_WEIGHTS))
        else:
            out += [Cut(piece, regular, (WEIGHTS["Regular"],)), Cut(piece, bold, (WEIGHTS["Bold"],))]
    return tuple(out)


@cache
def _source_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def fingerprint() -> str:
    """One hash of every file's recipe: the files' URLs, known before any is built (and a change
    of any recipe names every file anew: they are built again one by one as they are asked for)."""
    return hashlib.sha256("\n".join(c.recipe for c in cuts()).encode()).hexdigest()[:16]


def by_name() -> dict[str, Cut]:
    return {cut.name: cut for cut in cuts()}


_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def woff2(cut: Cut) -> bytes:
    """The file, from the cache, or built now: once per machine, whatever the number of
    requests for it that come meanwhile (a lock per file in the process, a file lock across
    processes)."""
    recipe = hashlib.sha256(cut.recipe.encode()).hexdigest()[:20]
    cached = fonts.CACHE_DIR / f"{cut.name.removesuffix('.woff2')}-{recipe}.woff2"
    with _locks_lock:
        lock = _locks.setdefault(cut.name, threading.Lock())
    with lock:
        kept = _read(cached)
        if kept is not None:
            return kept
        with _machine_lock(cached):
            kept = _read(cached)  # (another process built it while this one waited)
            if kept is not None:
                return kept
            data = _build(cut)
            fonts.keep(cached, data)
            return data


def _read(path: Path) -> bytes | None:
    try:
        kept = path.read_bytes()
    except OSError:
        return None
    return kept if kept.startswith(b"wOF2") else None  # (anything else is built again)


@contextlib.contextmanager
def _machine_lock(path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = open(path.with_name(f".{path.name}.lock"), "a")  # noqa: SIM115 (held across the yield)
    except OSError:  # a cache that cannot be written: this process builds its own
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(cut: Cut) -> bytes:
    from fontTools import subset  # (only a build needs it)

    font = TTFont(cut.source, fontNumber=0 if cut.source.suffix == ".ttc" else -1, lazy=True,
                  recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = FEATURES
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=cut.slice.points)
    subsetter.subset(font)
    font.flavor = "woff2"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def font_faces(family: str, url: Callable[[str], str], more: bool) -> str:
    """The @font-face rules of ``family``'s Noto faces: those of the stylesheet of more faces, or
    the page's (each as short as it can be: every page carries them)."""
    return "".join(_rule(family, url, c, weights) for c in cuts() if c.slice.more == more for weights in c.weights)


def _rule(family: str, url: Callable[[str], str], cut: Cut, weights: str) -> str:
    return (f'@font-face{{font-family:"{family}";font-weight:{weights};font-display:swap;'
            f'src:url({url(cut.name)});unicode-range:{cut.slice.unicode_range}}}\n')


def rules_by_slice(family: str, url: Callable[[str], str]) -> dict[str, str]:
    """The page's Noto faces (``font_faces(more=False)``), their rules by slice, in that order."""
    out: dict[str, str] = {}
    for cut in cuts():
        if not cut.slice.more:
            out[cut.slice.name] = out.get(cut.slice.name, "") + "".join(_rule(family, url, cut, w) for w in cut.weights)
    return out


@cache
def _page_slice_of() -> dict[int, str]:
    return {point: s.name for s in slices() if not s.more for point in s.points}


def page_slices(text: str) -> frozenset[str]:
    """The page faces' slices ``text`` has a character of."""
    of = _page_slice_of()
    return frozenset(of[point] for point in {ord(c) for c in text} if point in of)
