"""``/v1/audiences``: an app's audiences, with the secret key only (DESIGN.md "Audiences"). Put a
version (JSON, or TOML of the same shape), list them, read one with its versions and counts
over time, page through its members."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .. import http
from ..auth import require_secret_key
from ..errors import ValidationFailed
from . import builtin, membership, store
from .definition import MAX_AUDIENCE_BYTES, is_audience_id

bp = Blueprint("audiences", __name__)

MAX_CURSOR_CHARS = 1000


def known_id(audience_id: str) -> None:
    """An audience id of the id's form, else the unknown audience's 404 (before any key or query)."""
    if not is_audience_id(audience_id):
        raise store.unknown_audience(audience_id)


def _existing(app_id: int, audience_id: str) -> None:
    if not store.exists(app_id, audience_id):
        raise store.unknown_audience(audience_id)


@bp.put("/v1/audiences/<audience_id>")
def put(audience_id: str) -> tuple[Response, int]:
    known_id(audience_id)
    caller = require_secret_key()
    body = http.read_body(MAX_AUDIENCE_BYTES, tuple(http.DEFINITION_FORMATS))
    number = store.save(caller.app_id, audience_id, body.decode(), http.DEFINITION_FORMATS[request.mimetype],
                        key_id=caller.key_id)
    return jsonify({"id": audience_id, "version": number}), 201


@bp.get("/v1/audiences")
def index() -> Response:
    caller = require_secret_key()
    return jsonify({"audiences": store.listing(caller.app_id)})


@bp.get("/v1/audiences/<audience_id>")
def show(audience_id: str) -> Response:
    """The latest version's source and every version (none for a built-in one), and the counts
    of its latest refreshes, oldest first."""
    known_id(audience_id)
    caller = require_secret_key()
    _existing(caller.app_id, audience_id)
    counts = membership.counts(caller.app_id, audience_id)
    if audience_id in builtin.BUILTIN:
        return jsonify({"id": audience_id, "builtin": True, "threshold": builtin.CHURN_THRESHOLD, "counts": counts})
    return jsonify({**store.source(caller.app_id, audience_id), "builtin": False,
                    "versions": store.versions(caller.app_id, audience_id), "counts": counts})


@bp.get("/v1/audiences/<audience_id>/members")
def members(audience_id: str) -> Response:
    """A page of the members as of the last refresh, by user id: ``?cursor=`` from the last
    page's ``next``, ``?limit=`` at most MAX_PAGE_SIZE."""
    known_id(audience_id)
    caller = require_secret_key()
    _existing(caller.app_id, audience_id)
    limit = request.args.get("limit", str(membership.PAGE_SIZE))
    if not limit.isdigit() or not 1 <= int(limit) <= membership.MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit is 1 to {membership.MAX_PAGE_SIZE}.",
                               details={"limit": [f"Must be between 1 and {membership.MAX_PAGE_SIZE}."]})
    cursor = request.args.get("cursor")
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise ValidationFailed("The cursor is too long.", details={"cursor": ["Not a cursor this API gave."]})
    return jsonify(membership.page(caller.app_id, audience_id, cursor, int(limit)))
