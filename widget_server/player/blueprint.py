"""The player blueprint: the routes of ``player/`` are added to it by its modules."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..http import ANY_ORIGIN

bp = Blueprint("player", __name__, static_folder="static", static_url_path="/widget",
               template_folder="templates")


WIDGET_PREFIX = "/widget/"


@bp.after_request
def _widget_cors(response: Response) -> Response:
    # player.css and its font are loaded by other sites' pages; fonts need CORS to be used.
    if request.path.startswith(WIDGET_PREFIX):
        response.headers.update(ANY_ORIGIN)
    return response


