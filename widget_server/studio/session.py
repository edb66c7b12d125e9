"""The studio's sign-in: the app's secret key, typed once into a form, becomes a short-lived
signed session cookie; the key itself is never stored, put in a URL or sent back.

- The cookie (``recap_studio``) holds the app, the key's row id, a CSRF token and when it was
  signed, signed with the instance's signing keys (itsdangerous, its own salt). It is HttpOnly,
  SameSite=Strict, ``Secure`` when the server's public URL is https, scoped to ``/studio``, and
  ends after ``STUDIO_SESSION_SECONDS``; revoking or rotating the key ends it at once (the row is
  looked up on every request).
- Every request that changes something carries the CSRF token in ``X-CSRF-Token`` (a form, in
  its ``csrf`` field; the page has it, another site's page cannot read it), and its ``Origin``,
  when the browser sends one, must be the server's own (``RECAP_PUBLIC_BASE_URL``'s).
- Sign-in attempts are rate limited per client address (``STUDIO_LOGINS_PER_MINUTE``).
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.wrappers import Response as AnyResponse

from ..auth import key_caller
from ..config import signing_keys
from ..errors import Forbidden, TooManyRequests, Unauthorized
from ..ingest.rate_limit import RateLimiter
from ..share.public_url import public_base
from ..store.models import ApiKey

COOKIE = "recap_studio"
PATH = "/studio"
SALT = "recap.studio-session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class StudioSession:
    app_id: int
    key_id: int
    csrf: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(current_app), salt=SALT)


def sign_in(key: str) -> tuple[StudioSession, str]:
    """The session for a secret key, and the cookie value that carries it; Unauthorized for
    anything but a live secret key, TooManyRequests past the attempts one address may make."""
    per_minute = current_app.config["STUDIO_LOGINS_PER_MINUTE"]
    logins = current_app.extensions.setdefault("recap_studio_logins", RateLimiter())  # this app's, in this process
    wait = logins.take(request.remote_addr or "-", 1, per_minute, per_minute / 60)
    if wait:
        raise TooManyRequests("Too many sign-in attempts; wait a minute.", retry_after=wait)
    caller = key_caller(key.strip())
    if caller is None or caller.kind != ApiKey.SECRET or caller.key_id is None:
        raise Unauthorized("That is not a secret key of any app.")
    session = StudioSession(caller.app_id, caller.key_id, secrets.token_urlsafe(24))
    return session, _serializer().dumps({"a": session.app_id, "k": session.key_id, "c": session.csrf})


def current() -> StudioSession | None:
    """The request's session: signed by us, not expired, its key still live; else None."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        data = _serializer().loads(value, max_age=current_app.config["STUDIO_SESSION_SECONDS"])
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("a", "k")):
        return None
    live = (ApiKey.select(ApiKey.id)
            .where((ApiKey.id == data["k"]) & (ApiKey.app == data["a"]) & (ApiKey.kind == ApiKey.SECRET)
                   & ApiKey.revoked_at.is_null())
            .exists())
    return StudioSession(data["a"], data["k"], str(data.get("c", ""))) if live else None


def _same_origin() -> bool:
    origin, base = request.headers.get("Origin"), public_base(required=False)
    if origin is None or not base:
        # Not sent (some older browsers), or no address of ours to compare with (no
        # RECAP_PUBLIC_BASE_URL): the CSRF token and SameSite=Strict still hold.
        return True
    ours, theirs = urlsplit(base), urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


def require(*, changes: bool = True) -> StudioSession:
    """The signed-in session (401 otherwise); for a request that changes something, also its
    CSRF token and origin (403 otherwise)."""
    session = current()
    if session is None:
        raise Unauthorized("Sign in to the studio again: the session has ended.")
    if changes:
        token = request.headers.get(CSRF_HEADER) or request.form.get("csrf", "")
        if not hmac.compare_digest(token.encode(), session.csrf.encode()) or not _same_origin():
            raise Forbidden("This request did not come from the studio's own page.")
    return session


def set_cookie(response: AnyResponse, value: str) -> AnyResponse:
    response.set_cookie(COOKIE, value, max_age=current_app.config["STUDIO_SESSION_SECONDS"], path=PATH,
                        httponly=True, samesite="Strict", secure=_https())
    return response


def clear_cookie(response: AnyResponse) -> AnyResponse:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="Strict", secure=_https())
    return response


def _https() -> bool:
    return public_base(required=False).startswith("https://")
