"""Ingest benchmark: sustained HTTP batch ingest under gunicorn next to raw inserts of the same rows.

Run: ``python bench/ingest_bench.py`` (about 90 seconds), or with ``--database postgresql`` on a
throw-away PostgreSQL cluster it starts itself (Debian's PostgreSQL, fsync on; see "PostgreSQL"
below). It builds a throw-away instance,
prefills the event table past 1M rows, starts gunicorn the way docs/INGEST.md recommends, and
then alternates rounds of

* raw: ``sqlite3.executemany`` of rows exactly as the server builds them, into the same store,
  schema and pragmas, one transaction per 500 rows, then one pass of the keys indexed behind
  ingest (message id, user, name) over them into the keys file, as the server makes it every
  100k events, and a checkpoint that copies them from the WAL into the store;
* http: several concurrent senders POSTing 500-event ``/v1/batch`` bodies (unique messageIds)
  through the whole path: parse, validate, dedupe, identity, profiles, store, 200 after commit;
  the server's own passes over the keys and checkpoints run in the round's time, and the round
  ends with a pass and a checkpoint over what is left, so it pays for all of its events' index
  and checkpoint work (and none of the other side's);

so both are measured at the same table size and under the same background load. Medians across
rounds are reported because the machine is shared.

PostgreSQL: the store is prefilled by COPY (indexes rebuilt after), the raw side writes each
batch's rows with the server's own bulk writer (``store.postgres_writes``: COPY into the staging
table, identities, profiles and the events' insert in one round trip) one transaction per batch,
and nothing is indexed behind ingest (the table's own indexes are kept up by each insert).
``--users 40`` draws each batch's 25 users from 40, so that concurrent batches share users.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import io
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from demo_app.serving import free_port
from widget_server import create_app
from widget_server.auth import create_key
from widget_server.ingest import writer
from widget_server.ingest.schema import EventIn, decode_event, event_errors
from widget_server.store import event_keys, postgres_writes
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App
from widget_server.store.sqlite_files import SQLITE_PRAGMAS, sqlite3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from helpers.postgres import cluster, new_database  # noqa: E402  (the tests' throw-away cluster)

# README.md's production settings (the workers' metrics counted together).
GUNICORN_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deploy",
                               "gunicorn.conf.py")
BATCH = 500
USERS = 100_000
USERS_PER_BATCH = 25  # a server-side sender flushing a few dozen users' recent sessions
NAMES = ("Song Played", "Song Skipped", "Song Liked", "Playlist Opened", "Search", "Artist Followed",
         "Podcast Played", "Ad Heard", "Share Tapped", "App Opened")
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney")
DAY_MS = 86_400_000


@dataclass
class Round:
    raw_rate: float
    http_rate: float
    latencies_ms: list[float] = field(default_factory=list)
    size_before: int = 0


class EventFactory:
    """Realistic Segment events (~400 bytes of JSON with properties and context)."""

    def __init__(self, seed: int, users: int = USERS) -> None:
        self.rng = random.Random(seed)
        self.users = users
        self.clock_ms: int | None = None  # None: live traffic, stamped seconds before "now"

    def _timestamp(self) -> int:
        if self.clock_ms is not None:  # prefill: history in time order
            self.clock_ms += self.rng.randrange(5)
            return self.clock_ms
        # Live traffic arrives seconds after it happens; one event in 50 was queued offline for hours.
        delay = self.rng.expovariate(1 / 3_000) if self.rng.randrange(50) else self.rng.randrange(6 * 3_600_000)
        return int(time.time() * 1000 - delay)

    def message_id(self) -> str:
        bits = f"{self.rng.getrandbits(128):032x}"
        return f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-a{bits[17:20]}-{bits[20:]}"

    def batch(self) -> list[dict]:
        rng = self.rng
        users = rng.sample(range(self.users), USERS_PER_BATCH)
        events = []
        for i in range(BATCH):
            user = users[i % USERS_PER_BATCH]
            ts = self._timestamp()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + f".{ts % 1000:03d}Z"
            kind = "track" if i % 50 else "identify"
            event = {
                "type": kind, "userId": f"user-{user}", "anonymousId": f"device-{user:08x}",
                "messageId": self.message_id(), "timestamp": stamp,
                "context": {"library": {"name": "analytics-ios", "version": "4.1.8"},
                            "timezone": ZONES[user % len(ZONES)], "locale": "de-DE",
                            "app": {"version": "3.2.1", "build": "321"},
                            "device": {"type": "ios", "model": "iPhone15,2"},
                            "ip": f"10.{user % 256}.{user // 256 % 256}.7"},
            }
            if kind == "track":
                event["event"] = NAMES[rng.randrange(len(NAMES))]
                event["properties"] = {"track_id": f"t-{rng.randrange(10**6)}",
                                       "artist": f"Artist {rng.randrange(5000)}",
                                       "genre": "indie", "duration_s": rng.randrange(90, 400),
                                       "shuffle": bool(rng.getrandbits(1)), "source": "playlist"}
            else:
                event["traits"] = {"plan": "family", "country": "DE"}
            events.append(event)
        return events


def rows_for(app_id: int, batch: list[dict]) -> writer.Writes:
    """The rows the server would write for ``batch`` (built the same way, untimed)."""
    events = [msgspec.json.decode(msgspec.json.encode(e), type=EventIn) for e in batch]
    return writer.prepare(app_id, "UTC", events, int(time.time() * 1000), None)


def connect(path: str) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for name, value in SQLITE_PRAGMAS.items():
        con.execute(f"PRAGMA {name} = {value}")
    return con


def prefill(path: str, app_id: int, target: int, factory: EventFactory) -> float:
    """Fill the store to ``target`` events fast: indexes dropped, one transaction, rebuilt."""
    started = time.perf_counter()
    factory.clock_ms = int(time.time() * 1000) - 30 * DAY_MS
    con = connect(path)
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event'"
                          " AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    columns = writer.EVENT_COLUMNS
    insert = f"INSERT INTO event ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    con.execute("BEGIN")
    for _ in range(target // BATCH):
        con.executemany(insert, rows_for(app_id, factory.batch()).rows)
    # Every user already has a profile and an identity, as in a store that has run for a while.
    con.executemany("INSERT INTO profile (app_id, user_id, traits, timezone, first_seen, last_seen)"
                    " VALUES (?, ?, '{}', NULL, 0, 0) ON CONFLICT DO NOTHING",
                    [(app_id, f"user-{u}") for u in range(factory.users)])
    con.executemany("INSERT INTO identity (app_id, actor, user_id, created_at) VALUES (?, ?, ?, 0)"
                    " ON CONFLICT DO NOTHING",
                    [(app_id, f"a:device-{u:08x}", f"user-{u}") for u in range(factory.users)])
    con.execute("COMMIT")
    for _, sql in indexes:
        con.execute(sql)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    keys = event_keys.keys_connection(path)
    event_keys.catch_up(keys, limit=None)
    keys.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    keys.close()
    factory.clock_ms = None
    return time.perf_counter() - started


def raw_round(path: str, app_id: int, batches: list[list[dict]]) -> float:
    """Raw executemany of the server's own rows, one transaction per batch; rows/s."""
    prepared = [rows_for(app_id, b).rows for b in batches]
    con = connect(path)
    insert = (f"INSERT INTO event ({', '.join(writer.EVENT_COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(writer.EVENT_COLUMNS))})")
    started = time.perf_counter()
    for rows in prepared:
        con.execute("BEGIN IMMEDIATE")
        con.executemany(insert, rows)
        con.execute("COMMIT")
    con.close()
    index_pass(path)  # indexing their keys is part of storing them
    checkpoint(path)
    elapsed = time.perf_counter() - started
    return sum(len(r) for r in prepared) / elapsed


def index_pass(path: str) -> None:
    """One pass over the unindexed events, taking the keys file's lock as the server does."""
    with event_keys.keys_writer(path) as (con, lock), lock:
        event_keys.catch_up(con, limit=None)


def checkpoint(path: str) -> None:
    """Copy what the WAL holds into the store, so a round pays for moving its own rows there.

    While the server keeps connections open, closing ours does not checkpoint: a raw round
    would leave ~47 MB of WAL frames per 100k rows for the server's checkpointer to copy
    during the next HTTP round (0.1–0.25 s here), and the HTTP round its own last frames for
    the next raw round."""
    con = connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        con.close()


def wait_until_indexed(path: str, timeout: float = 60) -> bool:
    """Whether the server's passes index every stored event within ``timeout`` (at the end)."""
    con = event_keys.keys_connection(path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            done, top = event_keys.tail_bounds(con)
            if done >= top:
                return True
            time.sleep(0.1)
        return False
    finally:
        con.close()


def http_round(port: int, settle: Callable[[], None], write_key: str, batches: list[list[dict]],
               senders: int) -> tuple[float, list[float]]:
    """Concurrent senders POST the batches; events/s and per-request latencies (ms)."""
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    bodies = [msgspec.json.encode({"batch": b, "sentAt": sent_at}) for b in batches]
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = iter(bodies)

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                break
            t0 = time.perf_counter()
            conn.request("POST", "/v1/batch", body, headers)
            reply = conn.getresponse()
            answer = reply.read()
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(elapsed)
                if reply.status != 200 or msgspec.json.decode(answer)["stored"] != BATCH:
                    failures.append(f"{reply.status} {answer[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=sender, name=f"sender-{i}") for i in range(senders)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settle()  # the round pays for all of its events' work behind ingest, the next starts with none
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return len(bodies) * BATCH / elapsed, latencies


class SqliteSide:
    """The SQLite side: the instance's store file, its keys passed and checkpointed per round."""

    name = "sqlite"
    raw_label = f"raw sqlite3.executemany, {BATCH} rows/txn"

    def __init__(self, instance: str) -> None:
        self.path = os.path.join(instance, "recap.sqlite3")
        self.url = f"sqlite:///{self.path}"

    def prefill(self, app_id: int, target: int, factory: EventFactory) -> float:
        return prefill(self.path, app_id, target, factory)

    def raw_round(self, app_id: int, batches: list[list[dict]]) -> float:
        return raw_round(self.path, app_id, batches)

    def settle(self) -> None:
        # The server indexes keys every 100k events; pass what is left of this round's now.
        index_pass(self.path)
        checkpoint(self.path)

    def indexed(self) -> bool:
        return wait_until_indexed(self.path)

    def count(self) -> int:
        return count_events(self.path)


class PostgresSide:
    """The PostgreSQL side: a database in a throw-away cluster with fsync on."""

    name = "postgresql"
    raw_label = f"raw bulk writer (COPY), {BATCH} rows/txn"

    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self):
        import psycopg2

        return psycopg2.connect(self.url)

    def prefill(self, app_id: int, target: int, factory: EventFactory) -> float:
        """COPY ``target`` events with the event table's indexes dropped, then rebuilt."""
        started = time.perf_counter()
        factory.clock_ms = int(time.time() * 1000) - 30 * DAY_MS
        con = self.connect()
        cur = con.cursor()
        cur.execute("SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE tablename = 'event' AND indexname <> 'event_pkey'")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        columns = ", ".join(writer.EVENT_COLUMNS)
        for _ in range(target // BATCH):
            text = postgres_writes.copy_text(rows_for(app_id, factory.batch()).rows)
            cur.copy_expert(f"COPY event ({columns}) FROM STDIN", io.StringIO(text))
        cur.execute("INSERT INTO profile (app_id, user_id, traits, timezone, first_seen, last_seen) "
                    "SELECT %s, 'user-' || u, '{}', NULL, 0, 0 FROM generate_series(0, %s) u ON CONFLICT DO NOTHING",
                    (app_id, factory.users - 1))
        cur.execute("INSERT INTO identity (app_id, actor, user_id, created_at) SELECT %s, "
                    "'a:device-' || lpad(to_hex(u), 8, '0'), 'user-' || u, 0 FROM generate_series(0, %s) u "
                    "ON CONFLICT DO NOTHING", (app_id, factory.users - 1))
        for _, sql in indexes:
            cur.execute(sql)
        con.commit()
        con.autocommit = True
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")
        con.close()
        factory.clock_ms = None
        return time.perf_counter() - started

    def raw_round(self, app_id: int, batches: list[list[dict]]) -> float:
        """The server's own bulk writer on each batch's rows, one transaction per batch; rows/s."""
        prepared = [rows_for(app_id, b) for b in batches]
        con = self.connect()
        cur = con.cursor()
        started = time.perf_counter()
        for writes in prepared:
            postgres_writes.write(cur, writer.EVENT_COLUMNS, writes.rows, writes.identities, writes.profiles)
            con.commit()
        elapsed = time.perf_counter() - started
        con.close()
        return sum(len(w.rows) for w in prepared) / elapsed

    def settle(self) -> None:
        pass  # nothing is indexed behind ingest: each insert keeps the table's indexes

    def indexed(self) -> bool:
        return True

    def count(self) -> int:
        con = self.connect()
        try:
            cur = con.cursor()
            cur.execute("SELECT count(*) FROM event")
            return cur.fetchone()[0]
        finally:
            con.close()


def validator_costs(factory: EventFactory, n: int = 4_000) -> tuple[float, float]:
    """µs per event: the msgspec hot path against the marshmallow schema, same events."""
    raws = [msgspec.json.encode(e) for b in (factory.batch() for _ in range(n // BATCH)) for e in b]
    t0 = time.perf_counter()
    for raw in raws:
        decode_event(raw)
    fast = (time.perf_counter() - t0) / len(raws) * 1e6
    t0 = time.perf_counter()
    for raw in raws:
        event_errors(raw)
    slow = (time.perf_counter() - t0) / len(raws) * 1e6
    return fast, slow


def start_gunicorn(instance: str, database_url: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "RECAP_INSTANCE_PATH": instance, "RECAP_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, "--workers", str(workers),
               "--worker-class", "gthread",
               "--threads", str(threads), "--preload", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
               "widget_server:create_app()"]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def count_events(path: str) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT COUNT(*) FROM event").fetchone()[0]
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the store: the instance's SQLite file, or a throw-away PostgreSQL cluster")
    parser.add_argument("--prefill", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-events", type=int, default=100_000, help="events per HTTP round")
    parser.add_argument("--raw-rows", type=int, default=100_000, help="rows per raw round")
    parser.add_argument("--senders", type=int, default=4, help="concurrent HTTP senders")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="gthread threads per worker (the recommended 1)")
    parser.add_argument("--users", type=int, default=USERS,
                        help=f"users each batch's {USERS_PER_BATCH} are drawn from (40: batches share users)")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="recap-bench-")
    with ExitStack() as stack:
        if args.database == "postgresql":
            store: SqliteSide | PostgresSide = PostgresSide(new_database(stack.enter_context(cluster(durable=True)),
                                                                             "bench"))
        else:
            store = SqliteSide(instance)
        run(args, instance, store)
    if not args.keep:
        shutil.rmtree(instance, ignore_errors=True)


def run(args, instance: str, store: SqliteSide | PostgresSide) -> None:
    load_before = os.getloadavg()[0]
    factory = EventFactory(seed=1, users=args.users)
    flask_app = create_app({"INSTANCE_PATH": instance, "DATABASE_URL": store.url})
    with database.connection_context():
        app = App.create(name="Bench")
        write_key = create_key(app, ApiKey.WRITE)
    database.close() if not database.is_closed() else None
    fast_us, slow_us = validator_costs(factory)
    del flask_app

    prefill_s = store.prefill(app.id, args.prefill, factory)
    print(f"prefilled {store.count():,} events in {prefill_s:.1f} s", file=sys.stderr)
    port = free_port()
    server = start_gunicorn(instance, store.url, port, args.workers, args.threads)
    rounds: list[Round] = []
    try:
        http_round(port, store.settle, write_key, [factory.batch() for _ in range(4)], args.senders)  # warm-up
        for number in range(args.rounds):
            size = store.count()
            raw = store.raw_round(app.id, [factory.batch() for _ in range(args.raw_rows // BATCH)])
            batches = [factory.batch() for _ in range(args.http_events // BATCH)]
            rate, latencies = http_round(port, store.settle, write_key, batches, args.senders)
            rounds.append(Round(raw, rate, latencies, size))
            print(f"round {number + 1}: {size:,} events before; raw {raw:,.0f} rows/s; http {rate:,.0f} events/s",
                  file=sys.stderr)
        indexed = store.indexed()
    finally:
        server.terminate()
        server.wait(timeout=30)
    final = store.count()
    per_round = (args.raw_rows // BATCH + args.http_events // BATCH) * BATCH
    expected = args.prefill // BATCH * BATCH + 4 * BATCH + args.rounds * per_round
    report(args, store, rounds, final, expected, indexed, fast_us, slow_us, load_before, os.getloadavg()[0])


def report(args, store: SqliteSide | PostgresSide, rounds: list[Round], final: int, expected: int, indexed: bool,
           fast_us: float, slow_us: float, load_before: float, load_after: float) -> None:
    raw = statistics.median(r.raw_rate for r in rounds)
    rate = statistics.median(r.http_rate for r in rounds)
    latencies = sorted(x for r in rounds for x in r.latencies_ms)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    lines = [
        ("store size while measuring", f"{rounds[0].size_before:,} → {final:,} events"),
        ("every accepted event stored", f"{'yes' if final == expected else 'NO'} ({final:,} of {expected:,})"),
        ("all of them indexed by the server's passes", "yes" if indexed else "NO (not within 60 s)"),
        ("store", f"{store.name}, batches' users drawn from {args.users:,}"),
        (store.raw_label,
         f"{raw:,.0f} rows/s  (rounds {_spread([r.raw_rate for r in rounds])})"),
        (f"HTTP /v1/batch, {BATCH}/batch, {args.senders} senders",
         f"{rate:,.0f} events/s  (rounds {_spread([r.http_rate for r in rounds])})"),
        ("HTTP ÷ raw", f"{rate / raw:.0%}"),
        ("request latency p50 / p99", f"{p50:.0f} ms / {p99:.0f} ms"),
        ("validate: msgspec path / marshmallow",
         f"{fast_us:.1f} µs / {slow_us:.1f} µs per event ({slow_us / fast_us:.0f}×)"),
        ("server", f"gunicorn, {args.workers} gthread workers × {args.threads} threads"),
        ("load average before / after", f"{load_before:.2f} / {load_after:.2f} on {os.cpu_count()} cores"),
    ]
    width = max(len(k) for k, _ in lines)
    print(f"{'measure':<{width}}  result")
    print(f"{'-' * width}  {'-' * 50}")
    for key, value in lines:
        print(f"{key:<{width}}  {value}")


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f}–{max(values):,.0f}"


if __name__ == "__main__":
    main()
