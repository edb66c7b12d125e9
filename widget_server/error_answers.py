"""The server's answers for errors: every ``APIError``, HTTP error and unexpected exception becomes
the one JSON body ``errors`` describes, and every answer carries its request's ``X-Request-Id``."""
from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import APIError, transient_failure

log = logging.getLogger(__name__)


# A caller's (or a front proxy's) request id is kept when it looks like one, so logs line up.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id() -> str | None:
    """The id of the request being answered (None outside a request)."""
    if not has_request_context():
        return None
    rid: str | None = g.get("request_id")
    if rid is None:
        sent = request.headers.get("X-Request-Id", "")
        rid = g.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    return rid


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON shape of every error answer."""
    body = {"code": code, "message": message, "details": details if details is not None else {}}
    rid = request_id()
    if rid is not None:
        body["request_id"] = rid
    return {"error": body}


def error_response(exc: APIError) -> Response:
    response = jsonify(error_body(exc.code, exc.message, exc.details))
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def _http_error(exc: HTTPException) -> Response:
    slug = (exc.name or "error").lower().replace(" ", "_")
    response = jsonify(error_body(slug, exc.description or exc.name or "Error"))
    response.status_code = exc.code or 500
    if exc.code == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _internal_error(exc: Exception) -> Response:
    """Anything not answered on purpose: a transient failure gets its own answer (with
    Retry-After); the rest is a bug, logged, and answered 500 in the same JSON shape.

    Registered for ``Exception`` rather than left to Flask, whose answer is an HTML page (or,
    under TESTING, the server's) that a browser's script cannot read without CORS headers;
    this one goes through the blueprints' after-request hooks like any answer.
    """
    transient = transient_failure(exc)
    if transient is not None:
        log.warning("request %s answered %d %s: %s", request_id(), transient.status, transient.code, exc)
        return error_response(transient)
    log.exception("unexpected error (request %s)", request_id())
    response = jsonify(error_body("internal_error", "The server failed to handle the request. The failure is "
                                                    "logged under this request's id."))
    response.status_code = 500
    return response


def _tag(response: Response) -> Response:
    response.headers["X-Request-Id"] = request_id()
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(APIError, error_response)
    app.register_error_handler(HTTPException, _http_error)  # found before Exception: 404, 405… stay
    app.register_error_handler(Exception, _internal_error)
    app.after_request(_tag)
