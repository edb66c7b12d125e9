"""Debian's Chromium as the tests drive it, and the order pages and their servers close in."""
from __future__ import annotations

from demo_app.screenshots import CHROMIUM, CHROMIUM_ARGS

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "PAGE_SERVERS", "leave", "servers_before_pages"]

# Servers a page may talk to. A test's page is closed before they stop, so its last requests
# (the beacons a page sends as it goes away) still meet a server; Chromium was seen to hang
# closing a page whose server had already gone.
PAGE_SERVERS = ("live_server", "site")


def servers_before_pages(request) -> None:
    """Set up the test's servers before its page, so pytest tears them down after it."""
    for name in PAGE_SERVERS:
        if name in request.fixturenames:
            request.getfixturevalue(name)


def leave(page) -> None:
    """Navigate away first, so the page's unload work (the player's last beacons) runs while
    its servers answer and within a time limit; closing a context with that still pending was
    seen to hang Chromium."""
    try:
        page.goto("about:blank", timeout=5000)
    except Exception:  # a page that will not leave is closed all the same
        pass
