"""Keys and tokens: who is calling, and for which app.

* write keys (public, in apps and web pages) may only ingest;
* secret keys (server side) may mint viewer tokens and read any user's story;
* viewer tokens (short-lived, signed) let one user see only their own story;
* the webhook secret signs what triggers send to the app's server (derived, never stored).

Keys are shown once and stored as SHA-256 hashes. Credentials arrive as HTTP Basic (key as the
user name, the Segment way) or ``Authorization: Bearer``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from . import throttle
from .config import signing_keys
from .errors import Forbidden, Unauthorized, ValidationFailed
from .store.models import ApiKey, App, ViewerGrant, WebhookSecret, now_ms

KEY_PREFIX = {ApiKey.WRITE: "rcp_w_", ApiKey.SECRET: "rcp_s_"}
VIEWER_SALT = "recap.viewer-token"
VIEWER_TOKEN_MAX_TTL = 24 * 3600  # the longest ttl POST /v1/viewer-tokens grants
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SALT = b"recap.webhook-secret"
KEY_CACHE_SECONDS = 30.0
GRANT_SWEEP_SECONDS = 60.0  # how often one process clears expired viewer grants, at most
GRANT_SWEEP_ROWS = 1000  # and how many it deletes at a time


@dataclass(frozen=True)
class Caller:
    app_id: int
    kind: str  # "write", "secret" or "viewer"
    user_id: str | None = None
    grant_id: str | None = None
    key_id: int | None = None  # the ApiKey a key's caller presented (what audit rows name)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(app: App, kind: str) -> str:
    """Make a new key for ``app`` and return it; only its hash is stored."""
    key = KEY_PREFIX[kind] + secrets.token_urlsafe(32)
    ApiKey.create(app=app, kind=kind, key_hash=hash_key(key), prefix=key[:12])
    return key


def rotate_key(app: App, kind: str, keep_old: bool = False) -> str:
    key = create_key(app, kind)
    if not keep_old:
        (ApiKey.update(revoked_at=now_ms())
         .where((ApiKey.app == app) & (ApiKey.kind == kind) & ApiKey.revoked_at.is_null()
                & (ApiKey.key_hash != hash_key(key)))
         .execute())
    _key_cache.clear()
    return key


class _KeyCache:
    """Write keys' hash → (app id, kind) for KEY_CACHE_SECONDS, so the ingest hot path skips the
    lookup: a revoked write key may still add events for that long in a process that saw it.
    Secret keys (which read and erase users' data) and unknown keys are looked up every time, so
    revoking or rotating a secret key (`recap keys rotate`, in a process of its own) ends it in
    every server at once; a key made a moment ago is never refused for having been unknown."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Caller | None:
        digest = hash_key(key)
        hit = self._entries.get(digest)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        row = (ApiKey.select(ApiKey.id, ApiKey.app, ApiKey.kind)
               .where((ApiKey.key_hash == digest) & ApiKey.revoked_at.is_null())
               .first())
        if row is None:
            return None
        caller = Caller(app_id=row.app_id, kind=row.kind, key_id=row.id)
        if caller.kind == ApiKey.WRITE:
            with self._lock:
                if len(self._entries) > 10_000:
                    self._entries.clear()
                self._entries[digest] = (time.monotonic() + KEY_CACHE_SECONDS, caller)
        return caller

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_key_cache = _KeyCache()


def presented_credential() -> str | None:
    """The key or token in the Authorization header (Basic user name or Bearer), if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("The Basic credentials are not valid base64.") from None
        return decoded.partition(":")[0] or None
    return None


def key_caller(key: str | None) -> Caller | None:
    if not key or not key.startswith(tuple(KEY_PREFIX.values())):
        return None
    return _key_cache.get(key)


def require_ingest_credential(body_key: str | None = None) -> Caller:
    """Ingest: a write key (or the secret key, for server-side senders), or a viewer token.

    A viewer token lets the story player record engagement for its own user only: the ingest
    route then overwrites every event's userId with the token's user.
    """
    credential = presented_credential() or body_key
    caller = key_caller(credential)
    if caller is not None:
        return caller
    if credential and not credential.startswith(tuple(KEY_PREFIX.values())) and "." in credential:
        return verify_viewer_token(credential)
    raise Unauthorized("Send the app's write key as the HTTP Basic user name.")


def require_secret_key() -> Caller:
    caller = key_caller(presented_credential())
    if caller is None or caller.kind != ApiKey.SECRET:
        raise Unauthorized("This route needs the app's secret key (HTTP Basic user name or Bearer).")
    return caller


# --- viewer tokens ---------------------------------------------------------------------------

def _viewer_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(current_app), salt=VIEWER_SALT)


def create_viewer_token(app_id: int, user_id: str, ttl: int | None = None) -> tuple[str, int]:
    """Return (token, expires_at ms). The token names a random grant, not the user."""
    ttl = ttl or current_app.config["VIEWER_TOKEN_TTL"]
    sweep_expired_grants()
    grant = ViewerGrant.create(id=secrets.token_hex(16), app=app_id, user_id=user_id,
                               expires_at=now_ms() + ttl * 1000)
    # The expiry rides in the token too, so one whose grant was swept still reads "expired".
    token = _viewer_serializer().dumps({"g": grant.id, "a": app_id, "e": grant.expires_at})
    return token, grant.expires_at


def sweep_expired_grants() -> int:
    """Delete up to GRANT_SWEEP_ROWS expired grants, at most every GRANT_SWEEP_SECONDS per process.

    Minting is where grants are made, so it is where they are cleared: a bounded DELETE, run
    seldom, keeps the table to roughly the tokens still alive without a chore of its own.
    """
    return delete_expired_grants() if throttle.due("grant_sweep", GRANT_SWEEP_SECONDS) else 0


def delete_expired_grants() -> int:
    """Delete up to GRANT_SWEEP_ROWS expired grants now (also the queue's periodic chore)."""
    expired = ViewerGrant.select(ViewerGrant.id).where(ViewerGrant.expires_at < now_ms()).limit(GRANT_SWEEP_ROWS)
    deleted: int = ViewerGrant.delete().where(ViewerGrant.id.in_(expired)).execute()
    return deleted


def _expired() -> Unauthorized:
    return Unauthorized("The viewer token has expired; ask the app for a new one.", details={"token": ["expired"]})


def verify_viewer_token(token: str) -> Caller:
    serializer = _viewer_serializer()
    # The signature's age bounds every token; each one's own, shorter expiry is its grant's.
    max_age = max(VIEWER_TOKEN_MAX_TTL, current_app.config["VIEWER_TOKEN_TTL"])
    try:
        data = serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        raise _expired() from None
    except BadSignature:
        raise Unauthorized("The viewer token is not valid.", details={"token": ["invalid"]}) from None
    if not isinstance(data, dict):
        raise Unauthorized("The viewer token is not valid.", details={"token": ["invalid"]})
    grant = ViewerGrant.get_or_none(ViewerGrant.id == data.get("g"))
    expires_at = grant.expires_at if grant is not None else data.get("e")
    if isinstance(expires_at, int) and expires_at < now_ms():
        raise _expired()  # checked first: an expired grant may already have been swept
    if grant is None or grant.app_id != data.get("a"):
        raise Unauthorized("The viewer token is not valid.", details={"token": ["invalid"]})
    return Caller(app_id=grant.app_id, kind="viewer", user_id=grant.user_id, grant_id=grant.id)


def viewer_token_app(token: str) -> int | None:
    """The app a viewer token was signed for, expired or not; None if the signature is wrong.

    The embed page needs the app's frame-ancestors even to show "this link has expired".
    """
    try:
        data = _viewer_serializer().loads(token)
    except BadSignature:
        return None
    app_id = data.get("a") if isinstance(data, dict) else None
    return app_id if isinstance(app_id, int) else None


def require_viewer_or_secret(user_id: str | None = None, token: str | None = None) -> Caller:
    """A viewer token (Bearer or ``?token=``) for its own user, or a secret key naming ``user_id``."""
    credential = presented_credential() or token
    if not credential:
        raise Unauthorized("Send a viewer token (Bearer) or the app's secret key.")
    caller = key_caller(credential)
    if caller is not None:
        if caller.kind != ApiKey.SECRET:
            raise Unauthorized("A write key can only send events.")
        if not user_id:
            raise ValidationFailed("With the secret key, name the user: ?user_id=…",
                            details={"user_id": ["Missing data for required field."]})
        return Caller(app_id=caller.app_id, kind="secret", user_id=user_id)
    if credential.startswith(tuple(KEY_PREFIX.values())):
        raise Unauthorized("Unknown or revoked key.")
    viewer = verify_viewer_token(credential)
    if user_id and user_id != viewer.user_id:
        raise Forbidden("A viewer token shows only its own user's story.")
    return viewer


# --- webhook secrets -------------------------------------------------------------------------
# A webhook secret signs deliveries (HMAC-SHA256), so the server must be able to recover it: a
# hash, as keys are kept, would not do. It is derived instead, HMAC(signing key, nonce): the
# database holds the random nonce and which signing key derives it (by fingerprint), the key lives
# in the instance's secret_keys file. Neither alone gives the secret: a copy of the database does
# not, and no second master key needs managing. `recap keys rotate-signing` keeps older keys, so
# the secret holds; removing the key that derives it ends it (`recap keys rotate APP --kind
# webhook` makes a new one from the newest key). docs/TRIGGERS.md.

def _fingerprint(key: str) -> str:
    return hashlib.sha256(b"recap.signing-key-id." + key.encode()).hexdigest()[:32]


def _derive(key: str, nonce: str) -> str:
    digest = hmac.new(key.encode(), WEBHOOK_SALT + b"." + nonce.encode(), hashlib.sha256).digest()
    return WEBHOOK_SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def rotate_webhook_secret(app_id: int) -> str:
    """A new webhook secret for the app, from the newest signing key; the old one stops signing."""
    key = signing_keys(current_app)[-1]
    nonce = secrets.token_urlsafe(24)
    (WebhookSecret.insert(app_id=app_id, nonce=nonce, key_fingerprint=_fingerprint(key), created_at=now_ms())
     .on_conflict(conflict_target=[WebhookSecret.app_id],
                  update={WebhookSecret.nonce: nonce, WebhookSecret.key_fingerprint: _fingerprint(key),
                          WebhookSecret.created_at: now_ms()})
     .execute())
    return _derive(key, nonce)


class NoWebhookSecret(Exception):
    """The app has no webhook secret, or the signing key that derived it is gone."""


def webhook_secret(app_id: int) -> str:
    """The app's webhook secret, derived again; NoWebhookSecret when it cannot be."""
    row = WebhookSecret.get_or_none(WebhookSecret.app_id == app_id)
    if row is None:
        raise NoWebhookSecret("The app has no webhook secret: run `recap keys rotate APP --kind webhook`.")
    for key in signing_keys(current_app):
        if hmac.compare_digest(_fingerprint(key), row.key_fingerprint):
            return _derive(key, row.nonce)
    raise NoWebhookSecret("The signing key that derived the app's webhook secret was removed: run "
                          "`recap keys rotate APP --kind webhook`.")
