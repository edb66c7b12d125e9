"""Static files as pages load them: fingerprinted URLs, compressed once, Manrope as WOFF2 subsets.

Pages name files through the ``asset_url`` template global (a content-hashed URL, cached for a
year) and inline stylesheets and scripts through ``inline_style`` and
``inline_script``. See docs/OPERATIONS.md (caching) and
docs/PLAYER.md (the font).
"""
from __future__ import annotations

import base64
import hashlib

from flask import Flask, Response
from markupsafe import Markup

from . import catalog
from .routes import bp


def _inline(element: str, paths: tuple[str, ...], page_text: str | None = None) -> Markup:
    # Our own files, not escaped; one that could end its element early is a bug in a build.
    files = catalog.catalog()
    text = "".join(files.inline[path] if page_text is None else files.inline_for(path, page_text) for path in paths)
    if f"</{element}" in text.lower():
        raise ValueError(f"{', '.join(paths)} cannot be inlined: it holds </{element}")
    return Markup(text)


def inline_style(*paths: str, page_text: str | None = None) -> Markup:
    """The stylesheets at ``paths`` as one text for a <style> element; with ``page_text`` (every
    text the page will show), the fonts' faces only for the scripts it has (catalog.inline_for)."""
    return _inline("style", paths, page_text)


def inline_script(*paths: str) -> Markup:
    """The scripts at ``paths`` as one text for a <script> element, run in that order."""
    return _inline("script", paths)


def csp_hash(text: str) -> str:
    """The CSP source that allows exactly this inline text ('sha256-...')."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def asset_url(path: str) -> str:
    return catalog.catalog().url(path)


def preload_first_font(response: Response) -> Response:
    """The Link header that has a page's browser ask for the Latin font as soon as the answer's
    headers are in, before it has read the page's <head> (about 100 ms sooner on a 400 kbps link)."""
    response.headers.add("Link", f'<{asset_url(catalog.FIRST_FONT)}>; rel=preload; as=font; type="font/woff2"; '
                                 "crossorigin")
    return response


def init_app(app: Flask) -> None:
    # The catalog (its fonts read from the cache, or built once per machine) is made by the first
    # request that needs it, in the process that serves it. A thread started here ran in
    # gunicorn's master, which forks its workers with --preload: a worker forked while that
    # thread was importing fontTools got the module half-initialised (500s and hung pages on a
    # fresh clone's first run).
    app.register_blueprint(bp)
    app.add_template_global(asset_url)
    app.add_template_global(inline_style)
    app.jinja_env.globals["first_font"] = catalog.FIRST_FONT
