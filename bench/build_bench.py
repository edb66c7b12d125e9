"""Story build rate on the job queue: users/s for 1, 2 and 4 worker processes, against the inline build.

Run: ``python bench/build_bench.py`` (about 2–4 minutes; ``--users`` and ``--chunk-size`` change
the size). On two stacks, with the same users and events sent through the real ingest:

* embedded: SQLite in an instance folder, the SQLite queue (huey) beside it;
* redis+postgresql: a throw-away PostgreSQL cluster and Redis started here on loopback ports
  (Debian's packages, as scripts/test.sh installs them), stopped at the end.

For each stack: the inline build (``precompute.build`` in this process, what ``recap stories
build --inline`` runs), then ``recap worker --workers N`` for N = 1, 2, 4 (one command, N forked
processes) consuming a build of every user that this process enqueues and follows, as ``recap
stories build`` does. The rate counts from the enqueue to the last chunk done. CPU ms/user is
the CPU time of the build per user: this process's for inline, the sum of each chunk's job
(claim, assembly, write: ``build_chunk.cpu_ms``) for the workers; it moves much less with the
machine's other load than the rates do, and says what the queue adds per user.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers.jobs import recap, recap_env, redis_server, stop, wait_until  # noqa: E402
from helpers.postgres import cluster, new_database  # noqa: E402
from helpers.server import LiveServer, make_tenant  # noqa: E402
from helpers.story import ms, send, track  # noqa: E402
from widget_server import create_app  # noqa: E402
from widget_server.engine import registry, resolve_period  # noqa: E402
from widget_server.engine.population import refresh  # noqa: E402
from widget_server.engine.precompute import build  # noqa: E402
from widget_server.engine.users import user_ids  # noqa: E402
from widget_server.jobs import builds  # noqa: E402
from widget_server.jobs.queue import queue_of  # noqa: E402
from widget_server.store.db import database  # noqa: E402
from widget_server.store.models import App, BuildChunk, PrecomputedStory  # noqa: E402

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TEMPLATE = "year-in-music"
WORKERS = (1, 2, 4)
BUILD_TIMEOUT_S = 300.0


def events(users: int, plays: int) -> list[dict]:
    start = ms("2026-03-01T18:00:00")
    return [track(f"user{u:05d}", "Song Played", start + i * 86_400_000 + u * 1000,
                  {"song_id": f"s{(u + i) % 40}", "song": f"Song {(u + i) % 40}",
                   "artist": f"Artist {(u * 7 + i) % 25}",
                   "genre": ("pop", "rock", "jazz")[i % 3], "ms_played": 150_000 + (u * 31 + i) % 90_000,
                   "device": "ios"})
            for u in range(users) for i in range(plays)]


def prepare(instance: Path, config: dict, data: list[dict]) -> tuple[object, int]:
    """The app on ``config``'s stack with the events sent through ingest; (flask app, app id)."""
    app = create_app({"INSTANCE_PATH": str(instance), "TESTING": True, **config})
    server = LiveServer(app).start()
    try:
        tenant = make_tenant("Soundwave")
        for at in range(0, len(data), 2500):
            send(server, tenant.write_key, data[at:at + 2500])
    finally:
        server.stop()
    return app, tenant.app_id


def inline_rate(app_id: int, chunk: int) -> tuple[float, float, int]:
    with database.connection_context():
        app = App.get_by_id(app_id)
        template = registry.get(app_id, TEMPLATE)
        period = resolve_period(template.spec["period"], NOW)
        refresh(app_id, template, period)
        everyone = user_ids(app_id)
        started, cpu = time.perf_counter(), time.process_time()
        report = build(app, template, period, now=NOW, users=everyone, refresh_population=False, chunk_size=chunk)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.failed == 0 and report.users == len(everyone), report
    return elapsed, cpu, report.users


def queued_rate(flask_app, app_id: int, instance: Path, config: dict, workers: int, chunk: int,
                log: Path) -> tuple[float, float, int]:
    worker = recap("worker", "--workers", str(workers), "--no-periodic", env=recap_env(instance, **config), log=log)
    try:
        wait_until(lambda: "recap worker:" in log.read_text(), 60, "the worker to start")
        time.sleep(1.0)  # its forks up and polling
        with flask_app.app_context(), database.connection_context():
            PrecomputedStory.delete().where(PrecomputedStory.app_id == app_id).execute()
            app = App.get_by_id(app_id)
            template = registry.get(app_id, TEMPLATE)
            period = resolve_period(template.spec["period"], NOW)
            everyone = user_ids(app_id)
            queue = queue_of(flask_app)
            started = time.perf_counter()
            run = builds.start(queue, app, template, period, NOW, everyone, chunk)
            deadline = time.monotonic() + BUILD_TIMEOUT_S
            while not (state := builds.progress(run)).finished:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the build with {workers} workers took over {BUILD_TIMEOUT_S:.0f} s")
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            cpu_ms = sum(BuildChunk.select(BuildChunk.cpu_ms).where(BuildChunk.build == run.id).scalars())
        assert state.report.failed == 0 and state.report.users == len(everyone), state.report
        return elapsed, cpu_ms / 1000, state.report.users
    finally:
        stop(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--plays", type=int, default=12, help="events per user")
    parser.add_argument("--chunk-size", type=int, default=150)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per ingest request in the table's way
    data = events(args.users, args.plays)
    rows: list[tuple[str, str, float, float, int]] = []
    root = Path(tempfile.mkdtemp(prefix="recap-build-bench-"))
    print(f"{args.users:,} users, {len(data):,} events, chunks of {args.chunk_size}; {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.2f} at the start)", flush=True)

    def run_stack(name: str, config: dict) -> None:
        instance = root / name
        flask_app, app_id = prepare(instance, config, data)
        elapsed, cpu, users = inline_rate(app_id, args.chunk_size)
        rows.append((name, "inline", elapsed, cpu, users))
        print(f"  {name}: inline {users / elapsed:,.0f} users/s", flush=True)
        for workers in WORKERS:
            elapsed, cpu, users = queued_rate(flask_app, app_id, instance, config, workers, args.chunk_size,
                                              root / f"{name}-{workers}.log")
            rows.append((name, f"{workers} worker{'s' if workers > 1 else ''}", elapsed, cpu, users))
            print(f"  {name}: {workers} workers {users / elapsed:,.0f} users/s", flush=True)
        database.close()

    run_stack("embedded", {})
    with cluster() as pg, redis_server() as redis:
        run_stack("redis+postgresql", {"DATABASE_URL": new_database(pg, "build_bench"), "QUEUE_URL": f"{redis}/0"})

    print()
    print(f"{'stack':<18} {'build':<10} {'users':>6} {'seconds':>8} {'users/s':>8} {'vs 1 worker':>11} "
          f"{'CPU ms/user':>11} {'vs inline':>9}")
    one: dict[str, float] = {}
    inline: dict[str, float] = {}
    for stack, how, elapsed, cpu, users in rows:
        rate, cost = users / elapsed, cpu / users * 1000
        if how == "inline":
            inline[stack] = cost
        if how == "1 worker":
            one[stack] = rate
        speedup = f"{rate / one[stack]:.2f}x" if stack in one and how != "inline" else ""
        print(f"{stack:<18} {how:<10} {users:>6} {elapsed:>8.2f} {rate:>8.0f} {speedup:>11} {cost:>11.2f} "
              f"{cost / inline[stack]:>8.2f}x")
    print(f"\n(load average {os.getloadavg()[0]:.2f} at the end; the machine's other work counts in every row)")


if __name__ == "__main__":
    main()
