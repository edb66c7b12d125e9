"""The player blueprint: the routes of ``player/`` are added to it by its modules."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..assets.catalog import WIDGET
from ..assets.routes import serve
from ..http import ANY_ORIGIN, without_database

bp = Blueprint("player", __name__, template_folder="templates")


@bp.after_request
def _widget_cors(response: Response) -> Response:
    # player.css and its font are loaded by other sites' pages; fonts need CORS to be used.
    if request.path.startswith(WIDGET):
        response.headers.update(ANY_ORIGIN)
    return response




@bp.get(WIDGET + "<path:name>")
@without_database
def widget_file(name: str) -> Response:
    """player.js, player.css, embed.js, the fonts: by fingerprinted URL or plain name (assets/)."""
    return serve(WIDGET + name)
