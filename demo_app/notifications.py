"""The demo's own back end hearing from Recap: a release announced to Soundwave's fans.

Soundwave's server keeps a webhook on 127.0.0.1 (the widget server runs with
RECAP_WEBHOOK_ALLOW_LOCAL=1 for it), saves the trigger of DESIGN.md (fans: the artist among a
listener's top 10 over the last year), asks the dry run which of the most played artists has the
most fans, sends that artist's release as the catalogue would, and counts the signed
notifications that arrive (docs/TRIGGERS.md).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from widget_server.auth import rotate_webhook_secret
from widget_server.store.db import database

from .catalog import ARTISTS
from .instance import DemoApp, server_app

CANDIDATES = 5  # the most played artists the dry run weighs


class Inbox:
    """Soundwave's webhook: the notifications whose signature verifies, by delivery id."""

    def __init__(self, secret: str):
        self.secret = secret
        self.verified: dict[str, dict[str, Any]] = {}
        self.refused = 0
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = inbox.verifies(self.headers.get("Recap-Signature", ""), body)
                if ok:
                    payload = json.loads(body)
                    inbox.verified[payload["id"]] = payload  # a delivery seen twice is one notification
                else:
                    inbox.refused += 1
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="demo-webhook", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/recap"

    def verifies(self, header: str, body: bytes) -> bool:
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        expected = hmac.new(self.secret.encode(), f"{parts.get('t', '')}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Announcement:
    artist: str
    fans: int  # what the dry run counted
    listeners: int
    notified: int  # signed notifications received


def _call(widget_url: str, app: DemoApp, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(widget_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {app.secret_key}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def announce_release(instance: Path, widget_url: str, app: DemoApp, year: int, wait: float = 60.0) -> Announcement:
    """The release of the artist with the most fans, told to them; what came of it."""
    with server_app(instance).app_context(), database.connection_context():
        secret = rotate_webhook_secret(app.app_id)  # (what `recap keys rotate --kind webhook` prints)
    inbox = Inbox(secret)
    try:
        trigger = {"on": {"event": "Release Published", "where": {"kind": "album"}},
                   "period": {"kind": "last_days", "days": 365},
                   "metrics": {"top_artists": {"kind": "top", "event": "Song Played", "property": "artist", "n": 10}},
                   "audience": "event.properties.artist in (top_artists | map(attribute='label') | list)",
                   "message": {"title": "New from {{ event.properties.artist }}",
                               "body": "{{ event.properties.album }} is out: you heard it here first."},
                   "webhook": inbox.url, "story": app.template}
        _call(widget_url, app, "PUT", "/v1/triggers/new-release", trigger)
        weighed = []
        for artist, _ in ARTISTS[:CANDIDATES]:
            album = {"artist": artist, "album": f"{artist}: {year} Sessions", "kind": "album"}
            found = _call(widget_url, app, "POST", "/v1/triggers/new-release/dry-run", {"event": {"properties": album}})
            weighed.append((found["would_notify"], artist, found["users"], album))
        fans, artist, listeners, album = max(weighed, key=lambda one: one[0])
        release = {"type": "track", "event": "Release Published", "anonymousId": "soundwave-catalogue",
                   "messageId": f"release-{artist}-{year}",  # sent again on a later run: told once
                   "properties": album}
        _call(widget_url, app, "POST", "/v1/track", release)
        # Until every fan's notification arrived, or the trigger's funnel counts them delivered
        # (a release told on an earlier run is not told again: none will arrive).
        deadline = time.monotonic() + wait
        delivered = 0
        while len(inbox.verified) < fans and delivered < fans and time.monotonic() < deadline:
            time.sleep(0.2)
            delivered = _call(widget_url, app, "GET", "/v1/triggers/new-release/funnel")["delivered"]
        return Announcement(artist, fans, listeners, max(len(inbox.verified), delivered))
    finally:
        inbox.stop()
