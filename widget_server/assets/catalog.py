"""Every static file the pages load, by URL path, with its fingerprinted URL and the stylesheet
and script texts a page inlines.

The stylesheets are served with the @font-face rules of fonts.py and noto.py put in front of them,
naming the font files by fingerprinted URL, so the player and the share page load the same files;
the Noto faces of CJK and the symbol sets are in a stylesheet of their own (``MORE_FACES``),
which a page adds when its text needs them. Noto's files are made on their first request.
Read again when a source file changes on disk (a new build of player.js needs no restart).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import favicon, fonts, noto
from .encoded import IMMUTABLE, SHORT, Encoded

PACKAGE = Path(__file__).resolve().parents[1]
WIDGET = "/widget/"          # the player's files (CORS for other sites: player/blueprint.py)
SHARE = "/s/_static/"        # the share page's files
STUDIO = "/studio/_static/"  # the studio's files
FONTS = WIDGET + "fonts/"
FIRST_FONT = FONTS + "manrope-latin.woff2"  # what every page's first text needs: preloaded
FAVICON = "/favicon.ico"
SOURCES = {WIDGET + name: PACKAGE / "player" / "static" / name
           for name in ("player.js", "player.css", "embed.js", "embed.css", "dashboard.css")}
# The player's words in each language but English (which is in player.js): fetched by a page that
# mounts the player for a story in another language, put in the embed page by the server.
SOURCES |= {WIDGET + f"strings/{path.name}": path
            for path in sorted((PACKAGE / "player" / "static" / "strings").glob("*.json"))}
SOURCES |= {SHARE + name: PACKAGE / "share" / "static" / name for name in ("share.css", "share.js")}
SOURCES |= {STUDIO + name: PACKAGE / "studio" / "static" / name for name in ("studio.css", "studio.js")}
# The font family each stylesheet names (the player's is its own, so a host page's Manrope is
# untouched). The player draws no story text before its story has come, and the font, preloaded
# beside player.js, comes first. The share page's text is drawn from the HTML alone, before the
# font can come on a slow network; its size-matched fallback takes Manrope's room, so the swap
# moves nothing (layout shift 0.0000 at 150 and 400 ms, docs/SHARING.md).
FAMILIES = {WIDGET + "player.css": "Recap Manrope", SHARE + "share.css": "Manrope"}
# The stylesheets of more faces of those families (noto.MORE_FACES), each beside its page's;
# the scripts add them by these names (js/player/dom.js, js/share).
MORE_FACES = {WIDGET + "more-faces.css": "Recap Manrope", SHARE + "more-faces.css": "Manrope"}
MIMETYPES = {".json": "application/json", ".js": "text/javascript", ".css": "text/css", ".woff2": "font/woff2",
             ".ico": "image/x-icon"}


@dataclass(frozen=True)
class Catalog:
    files: dict[str, Encoded]     # by URL path
    by_fingerprint: dict[str, str]  # fingerprinted URL path -> URL path
    lazy: dict[str, noto.Cut]     # fingerprinted URL path -> the Noto file made on its first request
    inline: dict[str, str]        # text to put in a page: stylesheets name their fonts by absolute URL
    # A stylesheet's text with the Noto page faces left out, and those faces' rules by slice name:
    # what ``inline_for`` puts together for a page whose text is known.
    bare: dict[str, str]
    noto_rules: dict[str, dict[str, str]]

    def inline_for(self, path: str, text: str) -> str:
        """The stylesheet ``path`` to inline in a page whose every text is ``text`` (its story is
        in it): Noto's page faces only for the scripts the text has. An English embed page is
        1 KB lighter for it, 20 ms of its first frame at 400 kbps; the page's player adds the
        stylesheet of more faces itself for anything else (js/shared/more_faces.js)."""
        if path not in self.bare:
            return self.inline[path]
        wanted = noto.page_slices(text)
        rules = self.noto_rules[path]
        return self.bare[path].replace(NOTO_MARK, "".join(rules[name] for name in rules if name in wanted))

    def url(self, path: str) -> str:
        return _fingerprinted(path, self.files[path])


def _fingerprinted(path: str, asset: Encoded) -> str:
    folder, _, name = path.rpartition("/")
    return f"{folder}/{asset.fingerprint(name)}"


def _mimetype(path: str) -> str:
    return MIMETYPES[Path(path).suffix]


NOTO_MARK = "/*noto*/"  # where a stylesheet made for one page's text gets its Noto faces


def _stylesheet(path: str, source: str, font_url: Callable[[str], str], noto_faces: str | None = None) -> str:
    if path not in FAMILIES:
        return source
    if noto_faces is None:
        noto_faces = noto.font_faces(FAMILIES[path], font_url, more=False)
    return fonts.font_faces(FAMILIES[path], font_url) + noto_faces + source


@lru_cache(maxsize=2)
def _build(sources: tuple[tuple[str, Path, int], ...]) -> Catalog:
    """The catalog of ``sources`` (URL path, file, its mtime: the key of the cache)."""
    files = {FONTS + f.name: Encoded(f.woff2, "font/woff2") for f in fonts.font_files()}
    font_urls = {f.name: _fingerprinted(FONTS + f.name, files[FONTS + f.name]) for f in fonts.font_files()}
    # Noto's, named by their recipe (noto.fingerprint): known before any is built.
    stamp = noto.fingerprint()
    lazy = {f"{FONTS}{cut.name.removesuffix('.woff2')}.{stamp}.woff2": cut for cut in noto.cuts()}
    font_urls |= {cut.name: path for path, cut in lazy.items()}
    # player.css names them relative to itself (it is loaded from other sites' pages, and
    # so are they); a page of this server that inlines a stylesheet, by absolute path.
    relative = {name: url.removeprefix(WIDGET) for name, url in font_urls.items()}
    files[FAVICON] = Encoded(favicon.ico(), "image/x-icon")
    inline, bare, noto_rules = {}, {}, {}
    for path, source, _ in sources:
        if path.endswith(".css"):
            text = source.read_text("utf-8")
            served = _stylesheet(path, text, (relative if path.startswith(WIDGET) else font_urls).__getitem__)
            inline[path] = _stylesheet(path, text, font_urls.__getitem__)
            files[path] = Encoded(served.encode(), "text/css")
            if path in FAMILIES:
                bare[path] = _stylesheet(path, text, font_urls.__getitem__, NOTO_MARK)
                noto_rules[path] = noto.rules_by_slice(FAMILIES[path], font_urls.__getitem__)
        else:
            body = source.read_bytes()
            if path.endswith(".js"):
                inline[path] = body.decode("utf-8")
            files[path] = Encoded(body, _mimetype(path))
    for path, family in MORE_FACES.items():
        names = (relative if path.startswith(WIDGET) else font_urls).__getitem__
        files[path] = Encoded(noto.font_faces(family, names, more=True).encode(), "text/css")
    by_fingerprint = {_fingerprinted(path, asset): path for path, asset in files.items()}
    return Catalog(files, by_fingerprint, lazy, inline, bare, noto_rules)


def catalog() -> Catalog:
    """The files as they are now on disk (the first call reads the fonts, or builds them: fonts.py)."""
    return _build(tuple((path, source, source.stat().st_mtime_ns) for path, source in SOURCES.items()))


@lru_cache(maxsize=64)
def _made(cut: noto.Cut) -> Encoded:
    return Encoded(noto.woff2(cut), "font/woff2")


def find(path: str) -> tuple[Encoded, str] | None:
    """The file at a URL path and how long it may be cached, or None."""
    files = catalog()
    if path in files.lazy:
        return _made(files.lazy[path]), IMMUTABLE
    if path in files.by_fingerprint:
        return files.files[files.by_fingerprint[path]], IMMUTABLE
    if path in files.files:
        return files.files[path], SHORT
    return None
