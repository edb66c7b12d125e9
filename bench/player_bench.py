"""Story stats benchmark: ``GET /v1/stats/stories/<template>`` time by number of viewers.

Run: ``python bench/player_bench.py [--sizes 1000,10000,100000]``. For each size it builds a
temporary SQLite database with the real schema, holding that many viewers' engagement events as
the player sends them (story_viewed, a run of frame_viewed until the viewer stops, story_completed
and story_shared for some, story_closed) over the last 30 days, plus the same number of unrelated
app events, then times the stats request through the Flask test client (median and p95 of 9).
Also prints the player's download size.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from widget_server import create_app
from widget_server.auth import create_key
from widget_server.ingest.writer import EVENT_COLUMNS
from widget_server.store import event_keys
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App, now_ms

FRAMES = ["intro", "minutes", "top-artists", "top-songs", "clock", "personality", "card"]


def rows_for(app_id: int, viewers: int, rng: random.Random):
    now = now_ms()
    n = 0
    for v in range(viewers):
        user = f"user-{v}"
        at = now - rng.randint(0, 29 * 86_400_000)
        reached = min(len(FRAMES), 1 + int(rng.expovariate(0.25)))
        events = [("story_viewed", {})]
        events += [("frame_viewed", {"frame_id": f, "index": i, "dwell_ms": rng.randint(1000, 6000),
                                     "advance": "auto"}) for i, f in enumerate(FRAMES[:reached])]
        if reached == len(FRAMES):
            events.append(("story_completed", {}))
            if rng.random() < 0.3:
                events.append(("story_shared", {"channel": "clipboard"}))
        events.append(("story_closed", {"progress": reached / len(FRAMES)}))
        events.append(("Song Played", {"artist": "x"}))  # unrelated traffic in the same table
        for i, (name, props) in enumerate(events):
            n += 1
            props = {"template": "year-in-music", **props} if name != "Song Played" else props
            row = {"app_id": app_id, "message_id": f"m{n}", "type": "track", "name": name,
                   "user_id": user, "actor": f"u:{user}", "timestamp": at + i * 1000, "utc_offset": 0,
                   "received_at": at + i * 1000,
                   "properties": json.dumps(props)}
            yield tuple(row.get(column) for column in EVENT_COLUMNS)


def run(viewers: int) -> tuple[int, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"INSTANCE_PATH": tmp, "TESTING": True})
        with database.connection_context():
            tenant = App.create(name="Bench")
            secret = create_key(tenant, ApiKey.SECRET)
            marks = ", ".join("?" * len(EVENT_COLUMNS))
            with database.atomic():
                cursor = database.cursor()
                cursor.executemany(f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})",
                                   rows_for(tenant.id, viewers, random.Random(viewers)))
                event_keys.catch_up(database.connection(), limit=None)  # as the server's passes do
            events = database.execute_sql("SELECT COUNT(*) FROM event").fetchone()[0]
            database.execute_sql("ANALYZE")
        client = app.test_client()
        auth = {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}
        times = []
        for _ in range(9):
            started = time.perf_counter()
            reply = client.get("/v1/stats/stories/year-in-music", headers=auth)
            times.append((time.perf_counter() - started) * 1000)
            assert reply.status_code == 200 and reply.get_json()["viewers"] == viewers
        times.sort()
        return events, statistics.median(times), times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    static = Path(__file__).resolve().parents[1] / "widget_server" / "player" / "static"
    print("| file | bytes | gzip |\n|---|---:|---:|")
    for name in ("player.js", "player.css", "embed.js"):
        data = (static / name).read_bytes()
        print(f"| {name} | {len(data):,} | {len(gzip.compress(data, 9)):,} |")
    print("\n| viewers | events in table | stats p50 ms | stats max of 9 ms | µs per viewer (p50) |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        events, p50, worst = run(size)
        print(f"| {size:,} | {events:,} | {p50:.1f} | {worst:.1f} | {p50 * 1000 / size:.1f} |")


if __name__ == "__main__":
    main()
