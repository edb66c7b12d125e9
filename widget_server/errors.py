"""One exception hierarchy for the server, and the one handler that turns it into JSON.

Every error body has the same shape::

    {"error": {"code": "validation_failed", "message": "…", "details": {…}, "request_id": "…"}}

``status`` is the HTTP status; ``code`` is a stable machine-readable slug; ``request_id`` repeats
the answer's ``X-Request-Id`` header, which every answer carries.

Only transient failures ask the caller to come back (``RetryLater``, with ``Retry-After``):
overload, a store that stays locked, a full disk. ``transient_failure`` finds them among the
exceptions nobody answered on purpose, at any depth of the server (SQLite, PostgreSQL, files);
everything else is a bug, answered 500 without a promise that retrying helps.
"""
from __future__ import annotations

import errno
import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify, request
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


class RetryLater(APIError):
    """A transient failure: the same request may succeed after ``Retry-After`` seconds."""

    status, code, message = 503, "unavailable", "The server cannot answer now; retry later."
    retry_after: int = 1

    def __init__(self, message: str | None = None, details: Any = None, retry_after: int | None = None):
        super().__init__(message, details, {"Retry-After": str(retry_after or self.retry_after)})


class TooManyRequests(RetryLater):
    status, code, message = 429, "too_many_requests", "The server is busy; retry later."


class StoreBusy(RetryLater):
    status, code, message = 503, "store_busy", "The store is busy with other writes; retry shortly."


class StorageFull(RetryLater):
    # 507: the request was fine, the server cannot store it now. Freeing space takes an operator,
    # so clients are asked to wait longer than for a lock.
    status, code, message = 507, "storage_full", "The server's storage is full; retry later."
    retry_after = 30


# SQLite's primary result codes (the low byte of the extended code Python reports).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL = 5, 6, 13
# PostgreSQL SQLSTATEs: disk full; lock timeout, deadlock, serialization, too many connections.
PG_DISK_FULL = "53100"
PG_BUSY = ("55P03", "40P01", "40001", "53300")
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def transient_failure(exc: BaseException) -> RetryLater | None:
    """The answer for ``exc`` if it is transient (a full disk, a store locked past its timeout),
    else None. Looks through wrapped exceptions: peewee re-raises the driver's as its own."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in NO_SPACE:
            return StorageFull()
        code = getattr(cause, "sqlite_errorcode", None)
        if code is not None:
            if code & 0xFF == SQLITE_FULL:
                return StorageFull()
            if code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED):
                return StoreBusy()
        state = getattr(cause, "pgcode", None)
        if state == PG_DISK_FULL:
            return StorageFull()
        if state in PG_BUSY:
            return StoreBusy()
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (``raise … from``; peewee keeps the driver's exception as
    ``orig``). Not ``__context__``: a bug met while handling a lock is still a bug."""
    found: list[BaseException] = []
    pending = [exc]
    while pending and len(found) < 8:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        wrapped = [current.__cause__, getattr(current, "orig", None)]
        pending.extend(e for e in wrapped if isinstance(e, BaseException))
    return found


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
