"""One exception hierarchy for the server, free of Flask so that the engine and the store can raise
it too; ``error_answers`` turns it into the one JSON body::

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
from typing import Any


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
