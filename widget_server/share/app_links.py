"""``/.well-known`` files that let Android and iOS open share links in the app.

The answer comes from ``App.app_links`` (``{"android": [...], "apple": {...}}``) of the app whose
``share_base_url`` is on the requested host; a server with a single app that has the setting
answers with that app's. Nothing configured: 404.
"""
from __future__ import annotations

import json
from urllib.parse import urlparse

from flask import Response, request

from ..errors import NotFound
from ..store.models import App
from .blueprint import bp


def _app_for_host(key: str) -> App | None:
    host = request.host.split(":")[0].lower()
    candidates = [app for app in App.select(App.id, App.share_base_url, App.app_links)
                  if isinstance(app.app_links, dict) and app.app_links.get(key)]
    for app in candidates:
        if app.share_base_url and (urlparse(app.share_base_url).hostname or "").lower() == host:
            return app
    return candidates[0] if len(candidates) == 1 else None


def _association(key: str, label: str) -> Response:
    app = _app_for_host(key)
    if app is None:
        raise NotFound(f"No {label} is configured for this host.", details={"app_links": [f"'{key}' is not set."]})
    body = json.dumps(app.app_links[key], separators=(",", ":"))
    return Response(body, mimetype="application/json", headers={"Cache-Control": "public, max-age=3600"})


@bp.get("/.well-known/assetlinks.json")
def assetlinks() -> Response:
    return _association("android", "Android asset links")


@bp.get("/.well-known/apple-app-site-association")
def apple_app_site_association() -> Response:
    return _association("apple", "Apple app site association")
