"""Story engine benchmark: assembly latency by user size, precomputed serving, and build rate.

Run: ``python bench/story_bench.py`` (first run about 3–4 minutes to generate the database, which
is then cached under /tmp; ``--regenerate`` rebuilds it; ``--users``, ``--build-users`` and
``--population-users`` shrink or grow it). It builds a SQLite file with the real schema holding
5.1M events over 50,000 users of a music app (the contract's vocabulary: Song Played / Song
Liked / Playlist Created / page views), where a few users have exactly 100, 1,000, 10,000 and
100,000 events in the period, 10% of users listened partly before logging in, 20% logged in
from a device linked by alias, and users live in four time zones. Then, with the shipped
``year-in-music`` template:

* population: the percentile distribution over all 50,000 users (``recap population refresh``);
* on demand: ``assemble_story(..., fresh=True)`` p50/p95 per size, and ms per 1,000 events;
* precomputed: ``assemble_story`` after ``build`` (one key lookup) p50/p95;
* the template lookup each story request makes (``registry.get``): the app's template row read
  (a publish in any process is seen by the next request), for a shipped default and for a
  version published in the database;
* build: ``precompute.build`` (what ``recap stories build`` runs) over 5,000 ordinary users, in
  one process and then with ``--workers 2`` over 5,000 others;
* population, as a server meets it: a database of ``--population-users`` users (about 5 events
  each) and a second app with a tenth of them, both without a population yet: the first story
  (which starts the background refresh), stories while it runs, the refresh's duration, and the
  identity query (``actor_pairs``) per 500 users.

The same on-demand sizes are also timed in a small database (the heavy users plus 1,000 others),
to show that a user's cost does not depend on how many other events the database holds.

``--database postgresql`` times the small database on SQLite and, copied row for row, on a
throw-away PostgreSQL cluster it starts itself (fsync on, as the tests' cluster helper makes it),
side by side; the big database's sections are left out.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from functools import partial

from widget_server.engine import assemble_story, population, registry, resolve_period, template_store
from widget_server.engine.errors import NotEligible
from widget_server.engine.population import refresh
from widget_server.engine.precompute import build
from widget_server.engine.templates import SHIPPED_DIR
from widget_server.engine.users import actor_pairs, user_ids
from widget_server.store import event_keys, migrations, postgres_writes
from widget_server.store.db import database, open_database
from widget_server.store.models import App, PopulationStat, StoredTemplate, TemplateAudit, TemplateVersion
from widget_server.store.sqlite_files import keys_path, sqlite3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from helpers.postgres import cluster, new_database  # noqa: E402  (the tests' throw-away cluster)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
BIG = "/tmp/recap_story_bench_5m.sqlite3"
SMALL = "/tmp/recap_story_bench_small.sqlite3"
SIZES = (100, 1_000, 10_000, 100_000)
PER_SIZE = 3
ORDINARY = 50_000
PERIOD_START = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
PERIOD_SPAN = 318 * 86_400_000  # to mid-November
PREVIOUS_START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
ZONES = (("UTC", 0), ("Asia/Tokyo", 540), ("America/New_York", -300), ("Europe/Berlin", 60))
GENRES = ("pop", "rock", "hip hop", "jazz", "electronic", "indie", "classical", "r&b")
COLUMNS = ("app_id", "message_id", "type", "name", "user_id", "anonymous_id", "actor", "timestamp",
           "utc_offset", "received_at", "properties", "context")


def heavy_users() -> list[tuple[str, int]]:
    return [(f"heavy{size}_{i}", size) for size in SIZES for i in range(PER_SIZE)]


def generate(path: str, ordinary: int, avg_events: int, apps: tuple[int, ...] = (1,), heavy: bool = True) -> None:
    """Fill ``path`` with the schema (via the real migrations) and events, fast: ``ordinary``
    users (and the heavy ones) in app 1, and as many users in each further app as ``apps`` says
    (app 2's users are ``apps[1]``, ...)."""
    for file in (path, keys_path(path)):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(file + suffix):
                os.remove(file + suffix)
    database.initialize(open_database(f"sqlite:///{path}"))
    migrations.upgrade()
    with database.connection_context():
        for n in range(len(apps)):
            App.create(name="Soundwave" if n == 0 else f"Soundwave {n + 1}", deep_link_scheme="soundwave",
                       share_base_url="https://soundwave.app")
    database.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = wal")
    conn.execute("PRAGMA synchronous = off")
    # Loading is much faster with the event indexes built afterwards.
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' "
                           "AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    rng = random.Random(42)
    users = [(1, f"user{i:05d}", max(1, int(rng.expovariate(1 / avg_events)))) for i in range(ordinary)]
    users += [(1, user, count) for user, count in heavy_users()] if heavy else []
    for app_id, count in enumerate(apps[1:], start=2):
        users += [(app_id, f"user{i:05d}", max(1, int(rng.expovariate(1 / avg_events)))) for i in range(count)]
    message = 0
    sql = f"INSERT INTO event ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    profiles, identities = [], []
    for n, (app_id, user, count) in enumerate(users):
        zone, offset = ZONES[n % len(ZONES)]
        context = f'{{"timezone":"{zone}"}}'
        anon = f"device-{n}" if n % 10 == 3 else None
        if anon:
            identities.append((app_id, f"a:{anon}", user, PERIOD_START))
        if n % 5 == 1:  # logged in from a device linked by alias (as the demo's people do)
            identities.append((app_id, f"u:device-{n}", user, PERIOD_START))
        heavy = user.startswith("heavy")
        favourite = rng.randrange(500)
        rows = []
        # Heavy users have exactly ``count`` events in the period; others spill into last year too.
        for i in range(count):
            ts = (PERIOD_START + rng.randrange(PERIOD_SPAN) if heavy or i % 5
                  else PREVIOUS_START + rng.randrange(PERIOD_SPAN))
            actor_anon = anon if anon and i % 10 == 0 else None
            roll = rng.random()
            song = favourite + int(rng.paretovariate(1.2)) % 2000
            if roll < 0.9:
                name, kind = "Song Played", "track"
                props = (f'{{"song_id":"s{song}","song":"Song {song}","artist":"Artist {song % 700}",'
                         f'"album":"Album {song % 900}","genre":"{GENRES[song % 8]}",'
                         f'"ms_played":{rng.randrange(10_000, 300_000)},"device":"{"ios" if song % 3 else "web"}"}}')
            elif roll < 0.97:
                name, kind = "Song Liked", "track"
                props = f'{{"song_id":"s{song}","song":"Song {song}","artist":"Artist {song % 700}"}}'
            elif roll < 0.98:
                name, kind = "Playlist Created", "track"
                props = f'{{"playlist":"Mix {i}"}}'
            else:
                name, kind = "/artist/[id]", "page"
                props = f'{{"path":"/artist/{song % 700}","url":"https://soundwave.app/artist/{song % 700}"}}'
            message += 1
            rows.append((app_id, f"m{message}", kind, name, None if actor_anon else user, actor_anon,
                         f"a:{actor_anon}" if actor_anon else f"u:{user}", ts, offset, ts, props, context))
        conn.executemany(sql, rows)
        profiles.append((app_id, user, f'{{"name":"Listener {n}","plan":"free"}}', zone, PERIOD_START, PERIOD_START))
        if n % 2000 == 0:
            conn.commit()
    conn.executemany("INSERT INTO identity (app_id, actor, user_id, created_at) VALUES (?, ?, ?, ?)", identities)
    conn.executemany("INSERT INTO profile (app_id, user_id, traits, timezone, first_seen, last_seen) "
                     "VALUES (?, ?, ?, ?, ?, ?)", profiles)
    conn.commit()
    for _, create in indexes:
        conn.execute(create)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    keys = event_keys.keys_connection(path)
    event_keys.catch_up(keys, limit=None)  # what the server's passes do as events arrive
    keys.execute("ANALYZE main")  # not the store attached read-only: "attempt to write a readonly database"
    keys.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


CPU: dict[int, list[float]] = {}


def timed(func, reps: int, cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds per call; CPU milliseconds go to ``cpu`` (the box is shared, so wall
    time includes waiting for a core)."""
    out = []
    for _ in range(reps):
        started, started_cpu = time.perf_counter(), time.process_time()
        func()
        out.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - started_cpu) * 1000)
    return out


def open_db(path: str) -> None:
    database.initialize(open_database(f"sqlite:///{path}"))
    migrations.upgrade()  # a file cached by an older version is brought up to date, as the server would
    database.connect(reuse_if_open=True)


def on_demand(reps: dict[int, int], cpu: dict[int, list[float]] | None = None) -> dict[int, list[float]]:
    results = {}
    for size in SIZES:
        samples: list[float] = []
        cpu_samples = cpu.setdefault(size, []) if cpu is not None else None
        for user, user_size in heavy_users():
            if user_size != size:
                continue
            assemble_story(1, "year-in-music", user, now=NOW, fresh=True)  # warm caches
            samples += timed(partial(assemble_story, 1, "year-in-music", user, now=NOW, fresh=True), reps[size],
                             cpu_samples)
        results[size] = samples
    return results


def _story(app_id: int, user: str) -> None:
    """An on-demand story as a request asks for it; "not eligible" is an answer too."""
    try:
        assemble_story(app_id, "year-in-music", user, now=NOW, fresh=True)
    except NotEligible:
        pass


def population_rows(users: int, regenerate: bool) -> list[tuple[int, float, float, float, float]]:
    """A story on an app whose population is missing, in a database of ``users`` users (app 1)
    and ``users // 10`` (app 2), about 5 events each: (users, first story ms, later story ms while
    the refresh runs, refresh s in the background, identity query ms per 500 users)."""
    path = f"/tmp/recap_story_bench_population_{users}.sqlite3"
    if regenerate or not os.path.exists(path):
        started = time.perf_counter()
        generate(path, users, 5, apps=(users, users // 10), heavy=False)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s")
    open_db(path)
    registry.get(1, "year-in-music")  # loaded before the first story is timed
    rows = []
    for app_id in (2, 1):
        ids = user_ids(app_id)
        pairs_ms = statistics.median(timed(partial(actor_pairs, app_id, ids[:500]), 5))
        PopulationStat.delete().where(PopulationStat.app_id == app_id).execute()
        population._memory.clear()
        started = time.perf_counter()
        first = timed(partial(_story, app_id, ids[1]), 1)[0]
        later = statistics.median(timed(partial(_story, app_id, ids[2]), 5))
        if not population.background.wait(900):
            raise SystemExit("the background population refresh took over 15 minutes")
        rows.append((len(ids), first, later, time.perf_counter() - started, pairs_ms))
    database.close()
    return rows


COPIED = {"event": COLUMNS, "identity": ("app_id", "actor", "user_id", "created_at"),
          "profile": ("app_id", "user_id", "traits", "timezone", "first_seen", "last_seen")}


def on_postgresql(path: str, reps: dict[int, int]) -> dict[int, list[float]]:
    """The SQLite file at ``path`` copied into a PostgreSQL database, its on-demand stories timed."""
    with cluster(durable=True) as server:
        database.initialize(open_database(new_database(server, "story_bench")))
        migrations.upgrade()
        with database.connection_context():
            App.create(name="Soundwave", deep_link_scheme="soundwave", share_base_url="https://soundwave.app")
        source = sqlite3.connect(path)
        con = database.connection()
        cur = con.cursor()
        for table, columns in COPIED.items():
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while chunk := rows.fetchmany(20_000):
                cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN",
                                io.StringIO(postgres_writes.copy_text(chunk)))
        source.close()
        con.commit()
        database.execute_sql("ANALYZE")
        template = registry.get(1, "year-in-music")
        refresh(1, template, resolve_period(template.spec["period"], NOW))
        timings = on_demand(reps)
        database.close()
    return timings


def compare_databases(reps: dict[int, int]) -> None:
    """The small database's on-demand stories on SQLite and on PostgreSQL, side by side."""
    if not os.path.exists(SMALL):
        generate(SMALL, 1000, 100)
    open_db(SMALL)
    template = registry.get(1, "year-in-music")
    refresh(1, template, resolve_period(template.spec["period"], NOW))
    on_sqlite = on_demand(reps)
    database.close()
    on_postgres = on_postgresql(SMALL, reps)
    print(f"\non-demand stories, year-in-music, the small database; {os.cpu_count()} shared cores")
    print(f"{'events/user':>12} | {'SQLite p50':>10} | {'p95':>8} | {'PostgreSQL p50':>14} | {'p95':>8}")
    print("-" * 64)
    for size in SIZES:
        lite, pg = on_sqlite[size], on_postgres[size]
        print(f"{size:>12,} | {statistics.median(lite):>7.1f} ms | {percentile(lite, 0.95):>5.1f} ms"
              f" | {statistics.median(pg):>11.1f} ms | {percentile(pg, 0.95):>5.1f} ms")


LOOKUPS = 2000


def template_lookups() -> dict[str, list[float]]:
    """What finding the template costs each story request: an app that never saved it (its row
    read, none found, the shipped file's stat) and one whose published version is in the database
    (its row read, the parsed version from the process's cache). The saved rows are removed after."""
    out = {"shipped default": timed(partial(registry.get, 1, "year-in-music"), LOOKUPS)}
    template_store.save_draft(1, "year-in-music", (SHIPPED_DIR / "year_in_music.toml").read_text(), publish=True)
    try:
        out["published version"] = timed(partial(registry.get, 1, "year-in-music"), LOOKUPS)
    finally:
        for model in (StoredTemplate, TemplateVersion, TemplateAudit):
            model.delete().where(model.app_id == 1).execute()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--build-users", type=int, default=5000, help="users for the build rate")
    parser.add_argument("--users", type=int, default=ORDINARY, help="ordinary users of the big database")
    parser.add_argument("--population-users", type=int, default=20_000,
                        help="users of the population database (and a tenth of them in a second app)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: the small database on SQLite and on PostgreSQL, side by side")
    args = parser.parse_args()
    reps = {100: 40, 1_000: 30, 10_000: 15, 100_000: 3}
    if args.database == "postgresql":
        compare_databases(reps)
        return
    big_path = BIG if args.users == ORDINARY else BIG.replace("_5m", f"_{args.users}")
    for path, ordinary, avg in ((big_path, args.users, 100), (SMALL, 1000, 100)):
        if args.regenerate or not os.path.exists(path):
            started = time.perf_counter()
            generate(path, ordinary, avg)
            print(f"generated {path} in {time.perf_counter() - started:.0f} s")

    open_db(SMALL)
    template = registry.get(1, "year-in-music")
    period = resolve_period(template.spec["period"], NOW)
    refresh(1, template, period)
    small = on_demand(reps)
    database.close()

    open_db(big_path)
    events = database.execute_sql("SELECT COUNT(*) FROM event").fetchone()[0]
    users = database.execute_sql("SELECT COUNT(*) FROM profile").fetchone()[0]
    started = time.perf_counter()
    refresh(1, template, period)
    population_s = time.perf_counter() - started
    big = on_demand(reps, CPU)

    app = App.get_by_id(1)
    build(app, template, period, now=NOW, users=[u for u, _ in heavy_users()], refresh_population=False)
    stored = {}
    for size in SIZES:
        samples: list[float] = []
        for user, user_size in heavy_users():
            if user_size == size:
                samples += timed(partial(assemble_story, 1, "year-in-music", user, now=NOW), 200)
        stored[size] = samples
    ordinary = [f"user{i:05d}" for i in range(0, args.users, max(1, args.users // args.build_users))][:args.build_users]
    started = time.perf_counter()
    counts = build(app, template, period, now=NOW, users=ordinary, refresh_population=False)
    build_s = time.perf_counter() - started
    others = [f"user{i:05d}" for i in range(1, args.users, max(1, args.users // args.build_users))][:args.build_users]
    started = time.perf_counter()
    parallel = build(app, template, period, now=NOW, users=others, refresh_population=False, workers=2,
                     database_url=f"sqlite:///{big_path}")
    parallel_s = time.perf_counter() - started
    lookups = template_lookups()
    database.close()
    population_table = population_rows(args.population_users, args.regenerate)

    print(f"\ndatabase: {events:,} events, {users:,} users (SQLite {sqlite3.sqlite_version}); "
          f"template year-in-music; {os.cpu_count()} shared cores")
    print(f"{'events/user':>12} | {'on-demand p50':>13} | {'p95':>9} | {'CPU p50':>8} | {'ms per 1k ev':>12} | "
          f"{'small-DB p50':>12} | {'precomputed p50':>15} | {'p95':>7}")
    print("-" * 111)
    for size in SIZES:
        p50 = statistics.median(big[size])
        print(f"{size:>12,} | {p50:>10.1f} ms | {percentile(big[size], 0.95):>6.1f} ms | "
              f"{statistics.median(CPU[size]):>5.1f} ms | "
              f"{p50 / size * 1000:>9.2f} ms | {statistics.median(small[size]):>9.1f} ms | "
              f"{statistics.median(stored[size]):>12.2f} ms | {percentile(stored[size], 0.95):>4.2f} ms")
    print(f"\nthe template a story request finds (registry.get, {LOOKUPS:,} calls): "
          + "; ".join(f"{name}: p50 {statistics.median(ms) * 1000:.0f} µs, p95 {percentile(ms, 0.95) * 1000:.0f} µs"
                      for name, ms in lookups.items()))
    print(f"\npopulation refresh over {users:,} users: {population_s:.1f} s ({users / population_s:,.0f} users/s)")
    print(f"build: {counts.users:,} users ({counts.built:,} eligible, {counts.failed} failed) in {build_s:.1f} s = "
          f"{counts.users / build_s:,.0f} users/s")
    print(f"build, 2 worker processes: {parallel.users:,} other users in {parallel_s:.1f} s = "
          f"{parallel.users / parallel_s:,.0f} users/s")
    print("\nfirst stories on an app with no population yet (about 5 events per user; "
          "the refresh runs in the background):")
    print(f"{'app users':>10} | {'first story':>11} | {'during refresh p50':>18} | {'refresh (background)':>20} | "
          f"{'identity query / 500 users':>26}")
    print("-" * 98)
    for users, first, later, refresh_s, pairs_ms in population_table:
        print(f"{users:>10,} | {first:>8.1f} ms | {later:>15.1f} ms | "
              f"{refresh_s:>12.1f} s = {users / refresh_s:>5,.0f}/s | {pairs_ms:>23.1f} ms")


if __name__ == "__main__":
    main()
