"""Generation: drive both demo apps through the real SDK against the real widget server."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sdk

from . import learning, music, photos, web
from .catalog import build_catalog
from .instance import DemoApp, ensure_apps, read_state, write_state
from .people import make_people
from .progress import Progress
from .server import WidgetServer

# The SDK's caller-side queue is bounded; the generator waits while this many are unsent, so
# a fast generator never overruns it and nothing is dropped.
HIGH_WATER = 40_000


@dataclass
class Report:
    """What one generation run did."""

    users: int
    seed: int
    through: str
    skipped: bool = False
    seconds: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)       # events handed to the SDK, per app
    delivered: dict[str, int] = field(default_factory=dict)  # acknowledged by the server, per app
    dropped: dict[str, int] = field(default_factory=dict)
    photos: int = 0
    web_requests: int = 0


def year_window(today: date | None = None) -> tuple[date, date]:
    """1 January of this year through the day before yesterday (UTC): the year so far, and no
    local time in any zone (UTC-12 to UTC+14) falls in the future."""
    end = (today or datetime.now(UTC).date()) - timedelta(days=2)
    return date(end.year, 1, 1), end


def generate(instance: Path, users: int = 300, seed: int = 7, server: WidgetServer | None = None,
             show_progress: bool = True, force: bool = False) -> tuple[dict[str, DemoApp], Report]:
    """Create (or reuse) the two apps and send their year of events.

    Skipped when the instance already holds this seed and user count through the same day;
    otherwise every event is sent with a message id derived from the seed, so the server
    keeps one copy of anything sent before.
    """
    instance = instance.resolve()
    apps = ensure_apps(instance)
    start, end = year_window()
    report = Report(users=users, seed=seed, through=end.isoformat())
    record = {"seed": seed, "users": users, "through": report.through}
    if not force and read_state(instance).get("generated") == record:
        report.skipped = True
        return apps, report

    began = time.monotonic()
    own_server = server is None
    server = server or WidgetServer(instance).start()
    try:
        _send_all(apps, server.url, instance, users, seed, start, end, report, show_progress)
    finally:
        if own_server:
            server.stop()
    report.seconds = time.monotonic() - began
    if not any(report.dropped.values()):
        state = read_state(instance)
        state["generated"] = record
        write_state(instance, state)
    return apps, report


def _client(app: DemoApp, url: str, instance: Path) -> sdk.Client:
    # Batches of 1000 gzip'd events; the on-disk spool lives in the instance folder so a demo
    # interrupted mid-way resumes delivery on the next run.
    return sdk.Client(app.write_key, host=url, spool_path=instance / f"sdk-spool-{app.kind}.sqlite3",
                      batch_size=1000, max_queue_size=HIGH_WATER * 2, flush_interval=0.2)


def _wait_below(client: sdk.Client, limit: int) -> None:
    while client.stats()["queued"] > limit:
        time.sleep(0.02)


def _send_all(apps: dict[str, DemoApp], url: str, instance: Path, users: int, seed: int,
              start: date, end: date, report: Report, show_progress: bool) -> None:
    catalog = build_catalog(seed)
    listeners = make_people(apps["music"].prefix, users, seed, start, end)
    learners = make_people(apps["learning"].prefix, users, seed, start, end)
    bar = Progress(total=2 * users + 1, enabled=show_progress)
    sent = 0

    pictures = photos.upload_for(apps["learning"], url, learners, seed)
    report.photos = len(pictures)

    music_client = _client(apps["music"], url, instance)
    learning_client = _client(apps["learning"], url, instance)
    try:
        for n, person in enumerate(listeners, start=1):
            sent += music.generate(person, catalog, seed, end, music_client)
            _wait_below(music_client, HIGH_WATER)
            bar.update(n, f"{music.APP_NAME} {n}/{users} listeners", sent)
        report.sent["music"] = sent
        for n, person in enumerate(learners, start=1):
            count = learning.generate(person, seed, end, learning_client, pictures.get(person.user_id))
            report.sent["learning"] = report.sent.get("learning", 0) + count
            sent += count
            _wait_below(learning_client, HIGH_WATER)
            bar.update(users + n, f"{learning.APP_NAME} {n}/{users} learners", sent)
        report.web_requests = web.browse(music_client, catalog, listeners, seed)
        bar.update(2 * users + 1, "web visits", sent + report.web_requests)
        for client in (music_client, learning_client):
            client.flush(timeout=120)
    finally:
        for kind, client in (("music", music_client), ("learning", learning_client)):
            client.shutdown(timeout=10)
            stats = client.stats()
            report.delivered[kind] = stats["delivered"]
            report.dropped[kind] = stats["dropped"]
        bar.finish()
