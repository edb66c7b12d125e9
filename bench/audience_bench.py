"""Audiences at scale: one audience's refresh over every user of an app, and the on-demand
answer for one chunk of users.

Run: ``python bench/audience_bench.py`` (``--users``/``--events``/``--fans`` choose the store, which
is the triggers bench's, generated once and cached under /tmp: ``--users`` listeners (100,000) and
about ``--events`` Song Played events (5M) over the last 80 days, ``--fans`` of them playing
"Nova" among their top artists). The store is copied into a fresh instance; then, in this
process, the audience "superfans of Nova" (at least 5 Nova plays in the last 90 days) is
refreshed ``--runs`` times (audiences/refresh.py: chunks of 250 users, the engine's metric SQL
over one slice each, ``when``, the members replaced in one transaction), and its members are
checked against one SQL query of this bench's own. Printed: each refresh's seconds, the cost per
user, and the on-demand computation for one chunk (what a story request pays when the stored
members are stale).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from trigger_bench import cached_instance  # noqa: E402

from widget_server import create_app  # noqa: E402
from widget_server.audiences import refresh, store  # noqa: E402
from widget_server.engine.users import user_ids  # noqa: E402
from widget_server.store.db import database  # noqa: E402
from widget_server.store.models import AudienceMember  # noqa: E402

SUPERFANS = """
description = "At least 5 plays of Nova in the last 90 days"
when = "nova_plays >= 5"

[period]
kind = "last_days"
days = 90

[metrics.nova_plays]
kind = "count"
event = "Song Played"
where = { artist = "Nova" }
"""
# This bench's own count of the same users, in one query over the events.
EXPECTED = ("SELECT user_id FROM event WHERE app_id = 1 AND name = 'Song Played' "
            "AND json_extract(properties, '$.artist') = 'Nova' AND timestamp >= ? "
            "GROUP BY user_id HAVING count(*) >= 5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--fans", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    with cached_instance(args.users, args.events, args.fans, args.regenerate) as instance:
        app = create_app({"INSTANCE_PATH": str(instance)})
        with app.app_context(), database.connection_context():
            store.save(1, "superfans", SUPERFANS)
            users = len(user_ids(1))
            times, members = [], 0
            for _ in range(args.runs):
                started = time.perf_counter()
                members = refresh.refresh(1, "superfans")
                times.append(time.perf_counter() - started)
            stored = {row.user_id for row in AudienceMember.select(AudienceMember.user_id)
                      .where(AudienceMember.audience_id == "superfans")}
            now = datetime.now(UTC)
            since = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000) - 89 * 86_400_000
            expected = {uid for (uid,) in database.execute_sql(EXPECTED, [since]).fetchall()}
            chunk = user_ids(1)[:refresh.CHUNK]
            started = time.perf_counter()
            refresh.compute(1, store.current(1, "superfans"), chunk, now)
            on_demand = time.perf_counter() - started
        best = min(times)
        print(f"\nstore: {users:,} users, about {args.events:,} events; audience: superfans of Nova (90 days)")
        print("\n| refresh | seconds | per user |\n|---|---|---|")
        for n, seconds in enumerate(times, 1):
            print(f"| run {n} | {seconds:.1f} | {seconds / users * 1e6:.0f} µs |")
        print(f"| median | {statistics.median(times):.1f} | {statistics.median(times) / users * 1e6:.0f} µs |")
        print(f"\nmembers: {members:,}; this bench's own query: {len(expected):,}; "
              f"{'equal' if stored == expected else 'DIFFERENT'}")
        print(f"on demand, one chunk of {len(chunk)} users: {on_demand * 1000:.0f} ms; best refresh {best:.1f} s")


if __name__ == "__main__":
    main()
