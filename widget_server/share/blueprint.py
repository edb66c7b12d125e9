"""The share blueprint: the routes of ``share/`` are added to it by its modules."""
from __future__ import annotations

from flask import Blueprint, Response

from ..assets.catalog import SHARE
from ..assets.routes import serve
from ..http import without_database

bp = Blueprint("share", __name__, template_folder="templates")


@bp.get(SHARE + "<path:name>")
@without_database
def static_file(name: str) -> Response:
    """share.css and share.js, by fingerprinted URL or plain name (assets/)."""
    return serve(SHARE + name)


