"""Static files as pages load them: fingerprinted URLs, compressed once, Manrope as WOFF2 subsets.

Pages name files through the ``asset_url`` template global (a content-hashed URL, cached for a
year) and inline stylesheets through ``inline_style``. See docs/OPERATIONS.md (caching) and
docs/PLAYER.md (the font).
"""
from __future__ import annotations

import base64
import hashlib

from flask import Flask
from markupsafe import Markup

from . import catalog
from .routes import bp


def inline_style(*paths: str) -> Markup:
    """The stylesheets at ``paths`` as one text for a <style> element (our own files, not escaped)."""
    files = catalog.catalog()
    return Markup("".join(files.inline[path] for path in paths))


def csp_hash(text: str) -> str:
    """The CSP source that allows exactly this inline text ('sha256-...')."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def asset_url(path: str) -> str:
    return catalog.catalog().url(path)


def init_app(app: Flask) -> None:
    # The catalog (and its fonts, about a second) is built by the first request that needs it, in
    # the process that serves it. A thread started here ran in gunicorn's master, which forks its
    # workers with --preload: a worker forked while that thread was importing fontTools got the
    # module half-initialised (500s and hung pages on a fresh clone's first run).
    app.register_blueprint(bp)
    app.add_template_global(asset_url)
    app.add_template_global(inline_style)
