"""Share tokens: a share's random id, signed, so links can't be guessed or forged.

The token is ``<id>.<signature>`` (itsdangerous ``Signer``, salt ``recap.share``). It names only
the random id; expiry and revocation live in the database, since a signature alone can't be
revoked. Signed with the instance's newest key; every listed key verifies.
"""
from __future__ import annotations

import re
import secrets

from flask import current_app
from itsdangerous import BadData, Signer
from itsdangerous.encoding import base64_decode, base64_encode

from ..config import signing_keys

SALT = "recap.share"
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def new_share_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


def _signer() -> Signer:
    # itsdangerous signs with the last key and tries them all when verifying; the config lists
    # keys oldest first, newest last.
    return Signer(signing_keys(current_app), salt=SALT)


def dumps(share_id: str) -> str:
    return _signer().sign(share_id).decode()


def loads(token: str) -> str | None:
    """The share id in ``token``, or None when the token was not made by this server."""
    try:
        share_id = _signer().unsign(token).decode()
        signature = token.rsplit(".", 1)[1]
        # Base64 lets the last character of a signature vary in its unused bits; accept only the
        # one spelling this server writes, so a link has exactly one valid form.
        canonical = base64_encode(base64_decode(signature)).decode() == signature
    except (BadData, UnicodeError):
        return None
    return share_id if canonical and _ID.match(share_id) else None
