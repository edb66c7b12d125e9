"""Static files as pages load them: fingerprinted URLs, compressed once, Manrope as WOFF2 subsets.

Pages name files through the ``asset_url`` template global (a content-hashed URL, cached for a
year) and inline stylesheets through ``inline_style``. See docs/OPERATIONS.md (caching) and
docs/PLAYER.md (the font).
"""
from __future__ import annotations

import base64
import hashlib
import threading

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
    # Built beside the app's start rather than in the first page's request (fonts take a second).
    threading.Thread(target=catalog.catalog, name="assets-build", daemon=True).start()
    app.register_blueprint(bp)
    app.add_template_global(asset_url)
    app.add_template_global(inline_style)
