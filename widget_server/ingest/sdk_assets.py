"""Serving the browser SDK, ``GET /sdk/recap.js``, from the installed ``sdk`` package."""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, request

from ..errors import NotFound
from ..http import ANY_ORIGIN

log = logging.getLogger(__name__)

bp = Blueprint("sdk_assets", __name__)

# The URL carries no version, so browsers revalidate hourly (a 304 thanks to the ETag) and a
# new release reaches every site within the hour; a day of stale-while-revalidate hides the check.
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"
CONTENT_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    """One file's bytes, gzipped once, with an ETag for each encoding."""

    plain: bytes
    gzipped: bytes
    etag: str


def sdk_js_path() -> Path:
    """Where ``sdk/js/recap.js`` is installed, found without importing the ``sdk`` package."""
    spec = importlib.util.find_spec("sdk")
    if spec is None or spec.origin is None:
        raise NotFound("The sdk package is not installed.")
    return Path(spec.origin).parent / "js" / "recap.js"


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Asset:
    data = path.read_bytes()
    # mtime=0 keeps the gzip bytes, and so their ETag, the same on every server process.
    return Asset(data, gzip.compress(data, compresslevel=9, mtime=0), hashlib.sha256(data).hexdigest()[:20])


def load_asset(path: Path) -> Asset:
    """The file's current contents; re-read only when it changes on disk."""
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        log.error("sdk asset missing: %s", path)
        raise NotFound("recap.js is not installed on this server.") from None
    return _load(path, mtime_ns)


@bp.route("/sdk/recap.js", methods=["GET", "HEAD"])
def recap_js() -> Response:
    asset = load_asset(sdk_js_path())
    use_gzip = request.accept_encodings.quality("gzip") > 0
    # Each encoding is a different byte sequence, so each gets its own strong ETag.
    etag = asset.etag + ("-gz" if use_gzip else "")
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": f'"{etag}"',
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Pages may load it with crossorigin (for Subresource Integrity and error details).
        **ANY_ORIGIN,
    }
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    body = asset.gzipped if use_gzip else asset.plain
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, content_type=CONTENT_TYPE)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
