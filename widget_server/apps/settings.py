"""The rules of an app's settings that come from its owner (``recap apps create|update``): brand
colours, the hosts that may frame its embed page, and the files that open share links in its
mobile apps. The player, the cards and the share page read them as stored."""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

from ..engine.assemble import DEFAULT_THEME
from ..engine.template_schema import COLOR

BRAND_COLOURS = tuple(DEFAULT_THEME)  # background, foreground, accent: what a story's theme takes

# One CSP source: an origin (with an optional "*." host wildcard and port), a bare scheme, or 'self'.
FRAME_SOURCE = re.compile(r"^(?:'self'|https?://(?:\*\.)?[A-Za-z0-9.-]+(?::\d{1,5})?|[a-z][a-z0-9+.-]*:)$")

# An Android signing certificate's SHA-256, as `keytool -list -v` prints it.
CERT_FINGERPRINT = re.compile(r"^[0-9A-F]{2}(?::[0-9A-F]{2}){31}$")
ANDROID_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+$")
# An iOS app id: the 10-character team id, a dot, the bundle id.
APPLE_APP_ID = re.compile(r"^[A-Z0-9]{10}\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
SHARE_PATHS = "/s/*"  # the share links a mobile app opens (share/page.py)
# The stores' own addresses for an app's page: what a share page's "Get your own" links to.
STORE_HOSTS = {"ios": ("apps.apple.com",), "android": ("play.google.com",)}


def frame_sources(setting: str | None) -> list[str]:
    """The words of a ``frame_ancestors`` setting: sources separated by spaces, commas or semicolons."""
    return [w for w in re.split(r"[\s,;]+", setting or "") if w]


def bad_frame_sources(setting: str) -> list[str]:
    return [w for w in frame_sources(setting) if not FRAME_SOURCE.match(w)]


def android_links(package: str, fingerprints: list[str]) -> list[dict[str, Any]]:
    """The assetlinks.json statements that let the Android app ``package`` open share links."""
    return [{"relation": ["delegate_permission/common.handle_all_urls"],
             "target": {"namespace": "android_app", "package_name": package,
                        "sha256_cert_fingerprints": fingerprints}}]


def apple_links(app_ids: list[str]) -> dict[str, Any]:
    """The apple-app-site-association document that lets the iOS apps ``app_ids`` open share links."""
    return {"applinks": {"details": [{"appIDs": app_ids, "components": [{"/": SHARE_PATHS}]}]}}


def bad_store_link(platform: str, url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme != "https" or parts.hostname not in STORE_HOSTS[platform]


def is_brand_colour(value: str) -> bool:
    """An opaque ``#rgb``/``#rrggbb``: cards are drawn without transparency."""
    return bool(COLOR.match(value)) and len(value) != 9
