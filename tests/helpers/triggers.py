"""Triggers' tests share: apps with a webhook secret, trigger definitions, the routes, and a
webhook receiver on 127.0.0.1 that records every delivery and answers as told."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask

from helpers.server import Tenant, basic, http, make_tenant
from helpers.story import identify, track
from helpers.video import consuming
from helpers.waiting import wait_until
from widget_server.jobs.queue import queue_of
from widget_server.store.db import database
from widget_server.store.models import JobRecord
from widget_server.triggers.events import handoff

DAY = 86_400_000
# The triggers' clock in tests (TRIGGER_CLOCK): 02:00 UTC today, so plays of the last weeks are in
# a 90-day period, and 03:00 in Berlin, inside ["22:00", "09:00"].
CLOCK = int(datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0).timestamp() * 1000)


def cli(app: Flask, *args: str) -> Any:
    """A ``recap`` command run against ``app`` (its context pushed, as `recap` pushes it)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@dataclass
class WebhookTenant(Tenant):
    webhook_secret: str = ""


def webhook_tenant(app: Flask, name: str = "Music", tenant: Tenant | None = None) -> WebhookTenant:
    """An app as `recap apps create` leaves it (or ``tenant``, made already), with the webhook
    secret `recap keys rotate --kind webhook` prints."""
    tenant = tenant or make_tenant(name)
    result = cli(app, "keys", "rotate", str(tenant.app_id), "--kind", "webhook")
    assert result.exit_code == 0, result.output
    secret = result.output.strip().removeprefix("webhook secret: ")
    return WebhookTenant(**vars(tenant), webhook_secret=secret)


def release_trigger(hook: str, **changes: Any) -> dict[str, Any]:
    """DESIGN.md's example: fans of the artist (top 10 over 90 days, or 20 plays) hear of a release."""
    return {
        "on": {"event": "Release Published", "where": {"kind": "album"}},
        "period": {"kind": "last_days", "days": 90},
        "metrics": {"top_artists": {"kind": "top", "event": "Song Played", "property": "artist", "n": 10}},
        "audience": "event.properties.artist in (top_artists | map(attribute='label') | list)",
        "message": {"title": "New from {{ event.properties.artist }}", "body": "Listen now."},
        "webhook": hook,
        "limits": {"per_user_per_day": 1},
        **changes,
    }


def put_trigger(server, key: str, trigger_id: str, body: dict | str,
                content_type: str = "application/json") -> Any:
    data = (json.dumps(body) if isinstance(body, dict) else body).encode()
    return http("PUT", f"{server.url}/v1/triggers/{trigger_id}", data, {"Content-Type": content_type, **basic(key)})


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.perf_counter() when it arrived

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1: every POST recorded; each answered with the next status
    of ``answers`` (then 200), so a test can refuse the first attempts."""

    def __init__(self, answers: list[int] | None = None):
        self.received: list[Received] = []
        self.answers = list(answers or [])
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append(Received(dict(self.headers), body, time.perf_counter()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/recap"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json() for r in self.received]


def verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does with ``Recap-Signature`` (DESIGN.md), written here independently."""
    parts = dict(part.split("=", 1) for part in headers["Recap-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def queue_idle(app: Flask) -> bool:
    """Nothing handed to the queue but not yet on it (a request gives its trigger jobs to a thread
    of the server's process, which may not have run yet on a busy machine), nothing waiting on the
    app's queue and no job running (scheduled retries aside)."""
    if not handoff.flush():
        return False
    with app.app_context(), database.connection_context():
        return queue_of(app).depth() == 0 and not JobRecord.select().where(JobRecord.status == "running").exists()


def settle(app: Flask) -> None:
    """The queue idle for a moment: every job enqueued so far has run (scheduled ones aside)."""
    streak = [0]

    def idle() -> bool:
        streak[0] = streak[0] + 1 if queue_idle(app) else 0
        return streak[0] >= 4
    wait_until(idle, 60, "the job queue to go idle", every=0.1)


def release(artist: str, kind: str = "album", message_id: str = "release-1") -> dict[str, Any]:
    """The catalogue's server-side event (sent with the secret key), a minute before CLOCK."""
    event = track(None, "Release Published", CLOCK - 60_000, {"artist": artist, "kind": kind})
    event.update(anonymousId="catalogue", messageId=message_id)  # a server of the app, not a user
    return event


@contextmanager
def delivering(app: Flask, live_server: Any,
               tenant: Tenant | None = None) -> Iterator[tuple[WebhookTenant, Receiver]]:
    """An app with a webhook secret (``tenant``, or a new one), a receiver on 127.0.0.1 (local webhooks allowed), the
    server's public address set for story links, fast retries, the clock at CLOCK, and a consumer
    of the queue beside the test."""
    app.config.update(WEBHOOK_ALLOW_LOCAL=True, PUBLIC_BASE_URL=live_server.url, TRIGGER_RETRY_DELAY=0.2,
                      TRIGGER_CLOCK=lambda: CLOCK)
    with Receiver() as receiver, consuming(app):
        yield webhook_tenant(app, tenant=tenant), receiver


ARTISTS = [f"Artist {i}" for i in range(14)]


def listeners(users: int) -> tuple[list[dict], dict[str, Counter]]:
    """Plays for ``users`` users: each plays some of ARTISTS a distinct number of times, so a top 10
    has no ties; some play "Nova" a lot, some a little, some long ago, some never. The plays per
    user and artist within the last 90 days are returned too, to compute the fans independently."""
    events, counted = [], {}
    for u in range(users):
        user = f"user-{u}"
        plays: Counter = Counter()
        chosen = ARTISTS[u % 3: u % 3 + 11]
        for rank, artist in enumerate(chosen):
            plays[artist] = 30 - rank * 2
        nova = [25, 9, 21, 40][u % 4]  # 25 and 21: in the top 10; 9: 12th, out; 40 long ago (below): out
        if nova:
            plays["Nova"] = nova
        counted[user] = Counter()
        for artist, n in plays.items():
            old = artist == "Nova" and u % 4 == 3
            for i in range(n):
                at = CLOCK - (200 if old else 1 + i % 60) * DAY - i * 1000
                events.append(track(user, "Song Played", at, {"artist": artist}))
                if not old:
                    counted[user][artist] += 1
        events.append(identify(user, {"name": f"Listener {u}"}, CLOCK - 100 * DAY))
    return events, counted


def fans_of(counted: dict[str, Counter], artist: str, opted_out: set[str] = frozenset()) -> set[str]:
    return {user for user, plays in counted.items()
            if artist in [a for a, _ in plays.most_common(10)] and user not in opted_out}
