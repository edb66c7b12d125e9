"""The absolute base of every URL the server hands out (share links, images, uploads).

It comes from configuration, never from a request header alone: a ``Host`` header is whatever
the caller typed, and a share URL is frozen into the share and its QR code for everyone who
later opens it. In order:

1. ``PUBLIC_BASE_URL`` (``RECAP_PUBLIC_BASE_URL``);
2. the request's host when ``TRUSTED_HOSTS`` (``RECAP_TRUSTED_HOSTS``) is set: Flask then refuses
   (400) every request whose ``Host`` is not on that list, so the host is one the operator named;
3. under debug or testing only, a loopback host (``127.0.0.1``, ``localhost``, ``[::1]``), so
   ``recap run --debug`` and the tests need no setting.

Anything else has no trustworthy base: minting a link then answers 503 ``not_configured``
naming the setting, and routes that can do without one use relative URLs.
"""
from __future__ import annotations

from flask import current_app, request

from ..errors import APIError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


class NotConfigured(APIError):
    status, code = 503, "not_configured"


def _request_base() -> str | None:
    """The request's own base, when its host can be trusted (see the module's rules)."""
    config = current_app.config
    if config.get("TRUSTED_HOSTS"):
        return request.host_url.rstrip("/")  # Flask already refused hosts off the list
    if current_app.debug or current_app.testing:
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        if host.lower() in LOOPBACK_HOSTS:
            return request.host_url.rstrip("/")
    return None


def public_base(*, required: bool = True) -> str:
    """The base for absolute links, without a trailing slash.

    ``required=False`` answers "" (relative links) instead of refusing when there is none.
    """
    base = current_app.config["PUBLIC_BASE_URL"] or _request_base()
    if base:
        return base
    if not required:
        return ""
    raise NotConfigured(
        "This server does not know its public address, so it cannot make links: set "
        "RECAP_PUBLIC_BASE_URL (e.g. https://recap.example.com) or RECAP_TRUSTED_HOSTS.",
        details={"RECAP_PUBLIC_BASE_URL": ["Not set, and the request's host is not a trusted one."]})
