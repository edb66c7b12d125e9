"""The URL schemes an app's deep links may use (``recap apps create --link-scheme``, share links)."""
from __future__ import annotations

import re

# An app's custom URL scheme, and schemes that must never become a link on our pages.
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,49}$")


UNSAFE_SCHEMES = {"javascript", "data", "vbscript", "file", "blob", "about", "http", "https"}


