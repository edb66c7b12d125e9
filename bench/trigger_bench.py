"""Triggers at scale: a release's fan-out from its ingest to the last webhook received, and what
the release's own ingest request costs.

Run: ``python bench/trigger_bench.py`` (``--users`` and ``--events`` change the size; the store
is generated once and cached under /tmp, ``--regenerate`` makes it again). A store of
``--users`` listeners (100,000) and about ``--events`` Song Played events (5M) over the last 80
days, written straight into SQLite with the real schema, where ``--fans`` of them (5,000) play
"Nova" among their top 10 artists. Then a real server (this process, werkzeug), ``recap worker
--workers N`` processes on the SQLite queue, and a webhook receiver on 127.0.0.1; the shipped
example trigger (DESIGN.md: the artist among the user's top 10 over 90 days):

* ingest: p50/p99 of 300 one-event batches of an ordinary event, and of 300 that start the
  trigger's job (a release whose ``where`` does not match: the job exits at once), so the
  release's own request is timed with everything it adds (the enqueue) and nothing it does not;
* fan-out: the release ingested, then the time to the last webhook received, the deliveries per
  second over the receiving, and how many users were notified against the fans generated.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.jobs import recap, recap_env, stop  # noqa: E402
from helpers.server import LiveServer, Tenant, basic, http  # noqa: E402
from helpers.triggers import Receiver, put_trigger, release_trigger, webhook_tenant  # noqa: E402
from helpers.waiting import wait_until  # noqa: E402
from widget_server import create_app  # noqa: E402
from widget_server.auth import create_key  # noqa: E402
from widget_server.store import event_keys, migrations  # noqa: E402
from widget_server.store.db import database, open_database  # noqa: E402
from widget_server.store.models import ApiKey, App, Delivery, TriggerRun  # noqa: E402
from widget_server.store.sqlite_files import keys_path, sqlite3  # noqa: E402

DAY = 86_400_000
COLUMNS = ("app_id", "message_id", "type", "name", "user_id", "anonymous_id", "actor", "timestamp",
           "utc_offset", "received_at", "properties", "context")


def generate(path: str, users: int, events: int, fans: int) -> None:
    """The store: one app, ``users`` listeners with about events/users plays each over 80 days;
    the first ``fans`` play Nova as their third artist, the others never."""
    for file in (path, keys_path(path)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(file + suffix):
                os.remove(file + suffix)
    database.initialize(open_database(f"sqlite:///{path}"))
    migrations.upgrade()
    database.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = off")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' "
                           "AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.execute("INSERT INTO app (id, name, timezone, locale, brand, frame_ancestors, app_links, store_links, "
                 "created_at) VALUES (1, 'Soundwave', 'UTC', 'en-GB', '{}', '', '{}', '{}', 0)")
    now = int(time.time() * 1000)
    rng = random.Random(21)
    per_user = max(1, events // users)
    sql = f"INSERT INTO event ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    message = 0
    profiles = []
    for u in range(users):
        user = f"user{u:06d}"
        favourites = [f"Artist {(u * 7 + k) % 600}" for k in range(12)]
        if u < fans:
            favourites[2] = "Nova"
        rows = []
        for i in range(per_user):
            artist = favourites[min(int(rng.expovariate(0.35)), 11)]
            ts = now - rng.randrange(80 * DAY)
            message += 1
            rows.append((1, f"m{message}", "track", "Song Played", user, None, f"u:{user}", ts, 0, ts,
                         json.dumps({"artist": artist, "song": f"{artist} {i % 9}"}), '{"timezone":"UTC"}'))
        conn.executemany(sql, rows)
        profiles.append((1, user, "{}", "UTC", now - 80 * DAY, now))
        if u % 2000 == 0:
            conn.commit()
    conn.executemany("INSERT INTO profile (app_id, user_id, traits, timezone, first_seen, last_seen) "
                     "VALUES (?, ?, ?, ?, ?, ?)", profiles)
    conn.commit()
    for _, create in indexes:
        conn.execute(create)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    keys = event_keys.keys_connection(path)
    event_keys.catch_up(keys, limit=None)
    keys.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_event_batches(server, key: str, make, count: int) -> list[float]:
    times = []
    for n in range(count):
        body = json.dumps({"batch": [make(n)]}).encode()
        started = time.perf_counter()
        reply = http("POST", server.url + "/v1/batch", body, {"Content-Type": "application/json", **basic(key)})
        times.append((time.perf_counter() - started) * 1000)
        assert reply.status == 200, reply.body
    return times


@contextmanager
def cached_instance(users: int, events: int, fans: int, regenerate: bool = False) -> Iterator[Path]:
    """A throw-away instance folder holding a copy of the store of ``users`` listeners, ``events``
    plays and ``fans`` of Nova, generated once into /tmp and reused (this bench's and the audience
    bench's)."""
    cached = f"/tmp/recap_trigger_bench_{users}_{events}_{fans}.sqlite3"
    complete = cached + ".complete"  # written last: a generation stopped half-way is made again
    if regenerate or not os.path.exists(complete):
        started = time.perf_counter()
        generate(cached, users, events, fans)
        Path(complete).touch()
        print(f"generated {cached} in {time.perf_counter() - started:.0f} s")
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder) / "instance"
        instance.mkdir(mode=0o700)
        for file, name in ((cached, "recap.sqlite3"), (keys_path(cached), "recap.sqlite3-keys")):
            shutil.copyfile(file, instance / name)
        yield instance


def release(n: int, kind: str) -> dict:
    return {"type": "track", "event": "Release Published", "anonymousId": "catalogue", "messageId": f"rel-{kind}-{n}",
            "properties": {"artist": "Nova", "kind": kind}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--fans", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request would be the output
    with cached_instance(args.users, args.events, args.fans, args.regenerate) as instance:
        settings = {"WEBHOOK_ALLOW_LOCAL": 1, "TRIGGER_RETRY_DELAY": 1}
        app = create_app({"INSTANCE_PATH": str(instance), **settings})
        with app.app_context(), database.connection_context():
            soundwave = App.get_by_id(1)
            keys = Tenant(1, soundwave.name, create_key(soundwave, ApiKey.WRITE), create_key(soundwave, ApiKey.SECRET))
        tenant = webhook_tenant(app, tenant=keys)
        server = LiveServer(app).start()
        worker = recap("worker", "--workers", str(args.workers), env=recap_env(instance, **settings),
                       log=instance.parent / "worker.log")
        try:
            with Receiver() as receiver:
                hook = release_trigger(receiver.url)
                assert put_trigger(server, tenant.secret_key, "new-release", hook).status == 201
                plain = one_event_batches(server, tenant.write_key, lambda n: {
                    "type": "track", "event": "Song Liked", "userId": "user000001", "messageId": f"like-{n}",
                    "properties": {"artist": "Nova"}}, 300)
                starting = one_event_batches(server, tenant.secret_key, lambda n: release(n, "single"), 300)
                began = time.perf_counter()
                one_event_batches(server, tenant.secret_key, lambda n: release(n, "album"), 1)
                with app.app_context(), database.connection_context():
                    wait_until(lambda: TriggerRun.select().where(TriggerRun.finished_at.is_null(False)).exists(),
                               3600, "the fan-out to finish", every=0.5)
                    made = Delivery.select().count()
                wait_until(lambda: len(receiver.received) >= made, 3600, "every webhook", every=0.2)
                arrivals = sorted(r.at for r in receiver.received)
                notified = {r.json()["user_id"] for r in receiver.received}
            print(f"\nstore: {args.users:,} users, {args.users * max(1, args.events // args.users):,} events, "
                  f"{args.fans:,} fans of Nova; recap worker --workers {args.workers}")
            print("\n| ingest, one-event batches | p50 ms | p99 ms |\n|---|---|---|")
            print(f"| an ordinary event | {statistics.median(plain):.1f} | {percentile(plain, 0.99):.1f} |")
            print(f"| a release (its request hands the trigger's job on) | {statistics.median(starting):.1f} | "
                  f"{percentile(starting, 0.99):.1f} |")
            spread = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
            print(f"\nfan-out: {len(notified):,} users notified ({made:,} deliveries; fans generated: {args.fans:,}); "
                  f"release ingested → first webhook {arrivals[0] - began:.1f} s, → last {arrivals[-1] - began:.1f} s; "
                  f"{len(arrivals) / spread if spread else float(len(arrivals)):.0f} deliveries/s while they arrived")
        finally:
            stop(worker)
            server.stop()


if __name__ == "__main__":
    main()
