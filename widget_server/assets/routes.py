"""Answering for the catalog's files: ``serve`` for the blueprints that own a URL prefix
(/widget/, /s/_static/), and /favicon.ico on every origin the server answers on."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from ..http import without_database
from . import catalog, encoded

bp = Blueprint("assets", __name__)


# Browsers ask for /favicon.ico by that name, so it cannot be fingerprinted: a day's cache.
FAVICON_CACHE = "public, max-age=86400"


def serve(path: str) -> Response:
    found = catalog.find(path)
    if found is None:
        abort(404)
    return encoded.answer(*found)


@bp.get(catalog.FAVICON)
@without_database
def favicon() -> Response:
    return encoded.answer(catalog.catalog().files[catalog.FAVICON], FAVICON_CACHE)
