"""Serving the browser SDK, ``GET /sdk/recap.js``, from the installed ``sdk`` package."""
from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response

from ..assets.encoded import Encoded, answer
from ..errors import NotFound
from ..http import ANY_ORIGIN

log = logging.getLogger(__name__)

bp = Blueprint("sdk_assets", __name__)

# The URL carries no version, so browsers revalidate hourly (a 304 thanks to the ETag) and a
# new release reaches every site within the hour; a day of stale-while-revalidate hides the check.
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


def sdk_js_path() -> Path:
    """Where ``sdk/js/recap.js`` is installed, found without importing the ``sdk`` package."""
    spec = importlib.util.find_spec("sdk")
    if spec is None or spec.origin is None:
        raise NotFound("The sdk package is not installed.")
    return Path(spec.origin).parent / "js" / "recap.js"


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Encoded:
    return Encoded(path.read_bytes(), "text/javascript")


def load_asset(path: Path) -> Encoded:
    """The file's current contents; re-read only when it changes on disk."""
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        log.error("sdk asset missing: %s", path)
        raise NotFound("recap.js is not installed on this server.") from None
    return _load(path, mtime_ns)


@bp.route("/sdk/recap.js", methods=["GET", "HEAD"])
def recap_js() -> Response:
    # brotli or gzip as the client takes it, each encoding with its own strong ETag (assets/).
    response = answer(load_asset(sdk_js_path()), CACHE_CONTROL)
    # Pages may load it with crossorigin (for Subresource Integrity and error details).
    response.headers.update(ANY_ORIGIN)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
