"""One exception hierarchy for the server, and the one handler that turns it into JSON.

Every error body has the same shape::

    {"error": {"code": "validation_failed", "message": "…", "details": {…}}}

``status`` is the HTTP status; ``code`` is a stable machine-readable slug.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class APIError(Exception):
    """Base of every error the server answers on purpose."""

    status: int = 400
    code: str = "bad_request"
    message: str = "The request could not be understood."

    def __init__(self, message: str | None = None, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}


class MalformedBody(APIError):
    status, code, message = 400, "malformed_body", "The body is not valid JSON."


class Unauthorized(APIError):
    status, code, message = 401, "unauthorized", "A valid key or token is required."


class Forbidden(APIError):
    status, code, message = 403, "forbidden", "This credential may not do that."


class NotFound(APIError):
    status, code, message = 404, "not_found", "Not found."


class Gone(APIError):
    status, code, message = 410, "gone", "This resource has expired or was revoked."


class PayloadTooLarge(APIError):
    status, code, message = 413, "payload_too_large", "The body is too large."


class UnsupportedMediaType(APIError):
    status, code, message = 415, "unsupported_media_type", "Send JSON (application/json or text/plain)."


class ValidationFailed(APIError):
    status, code, message = 422, "validation_failed", "Some fields are invalid."


class TooManyRequests(APIError):
    status, code, message = 429, "too_many_requests", "The server is busy; retry later."

    def __init__(self, message: str | None = None, details: Any = None, retry_after: int = 1):
        super().__init__(message, details, {"Retry-After": str(retry_after)})


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON shape of every error answer."""
    return {"error": {"code": code, "message": message, "details": details if details is not None else {}}}


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
    """Anything not answered on purpose: logged, and answered in the same JSON shape.

    Registered for ``Exception`` rather than left to Flask, whose answer is an HTML page (or,
    under TESTING, the server's) that a browser's script cannot read without CORS headers;
    this one goes through the blueprints' after-request hooks like any answer.
    """
    log.exception("unexpected error")
    response = jsonify(error_body("internal_error", "The server failed to handle the request; retry later."))
    response.status_code = 500
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(APIError, error_response)
    app.register_error_handler(HTTPException, _http_error)  # found before Exception: 404, 405… stay
    app.register_error_handler(Exception, _internal_error)
