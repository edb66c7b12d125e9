"""What a story and its stats read of ``event`` on PostgreSQL goes through an index: each
statement is EXPLAINed with ANALYZE (the plan PostgreSQL chose) over a table big enough that a
sequential scan would be chosen if no index served it (a real cluster, as in test_postgres)."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from helpers.postgres import new_database
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.story import ms, send, track, viewer_token
from widget_server import create_app
from widget_server.store.db import database


@pytest.fixture
def pg_app(postgres, tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "DATABASE_URL": new_database(postgres, "indexes")})
    yield app
    if not database.is_closed():
        database.close()


def _plans(sql: str, params) -> list[dict]:
    """Every node of the plan PostgreSQL runs for ``sql`` (EXPLAIN ANALYZE, so the plan it chose)."""
    (plan,), = database.execute_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchall()
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def test_a_story_and_its_stats_read_event_through_indexes(pg_app, caplog):
    """The statements that read ``event`` while a story is assembled on demand (the story slice,
    ``WITH story_slice AS MATERIALIZED (SELECT … FROM event …)`` from store/dialect.py, and whatever else
    reads it) and while the player's stats are answered (player/stats.py's four queries), each
    EXPLAINed with ANALYZE over 24,000 events of 600 users and the player's events of a few: none
    may be a sequential scan of ``event``."""
    tenant = make_tenant("Soundwave")
    now = datetime.now(UTC)
    start = ms(f"{now.year}-01-01T00:00:00Z")
    recent = ms((now - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with database.connection_context():  # the other users, in bulk
        database.execute_sql(
            "INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, utc_offset, received_at, "
            "properties, context) SELECT %s, 'm' || i, 'track', CASE WHEN mod(i, 10) = 0 THEN 'Song Liked' "
            "ELSE 'Song Played' END, 'user' || mod(i, 600), 'u:user' || mod(i, 600), %s + i * 60000, 0, "
            "%s + i * 60000, "
            "jsonb_build_object('artist', 'Artist ' || mod(i, 70), 'song', 'Song ' || mod(i, 300), 'genre', 'pop', "
            "'ms_played', 1000 + mod(i, 200000)), '{\"timezone\": \"UTC\"}' FROM generate_series(1, 24000) i",
            (tenant.app_id, recent, recent))  # inside the stats' window: a read by time alone walks them
        database.execute_sql("ANALYZE event")
    server = LiveServer(pg_app).start()
    try:
        send(server, tenant.write_key, [track("listener", "Song Played", start + 86_400_000 * d,
                                              {"artist": f"Artist {d % 3}", "song": f"Song {d}", "genre": "rock",
                                               "ms_played": 180000}) for d in range(40)])
        result = pg_app.test_cli_runner().invoke(args=["population", "refresh", "year-in-music", "--app", "Soundwave"])
        assert result.exit_code == 0, result.output
        for user in ("listener", "user7", "user8", "user9"):
            token = viewer_token(server, tenant.secret_key, user)
            http("POST", server.url + "/v1/batch", json.dumps({"batch": [
                {"type": "track", "event": name, "properties": {"template": "year-in-music", **props}}
                for name, props in [("story_viewed", {}), ("frame_viewed", {"frame_id": "intro", "index": 0,
                                                                             "dwell_ms": 4000}),
                                    ("story_shared", {"channel": "x"}), ("story_closed", {"progress": 1})]]}).encode(),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        with database.connection_context():
            database.execute_sql("ANALYZE event")
        with caplog.at_level(logging.DEBUG, logger="peewee"):
            story = http("GET", f"{server.url}/v1/stories/year-in-music?user_id=listener&fresh=1", None,
                         basic(tenant.secret_key))
            stats = http("GET", f"{server.url}/v1/stats/stories/year-in-music", None, basic(tenant.secret_key))
        assert story.status == 200 and stats.status == 200, (story.body, stats.body)
    finally:
        server.stop()
    statements = [record.msg for record in caplog.records if isinstance(record.msg, tuple)]
    reads = [(sql, params) for sql, params in statements
             if " FROM event " in sql + " " and not sql.startswith(("INSERT", "UPDATE", "DELETE"))]
    # The story reads event once: the slice and every metric's query over it in one statement,
    # which writes no table.
    slices = [sql for sql, _ in statements if "story_slice" in sql]
    assert len(slices) == 1 and slices[0].startswith("WITH story_slice AS MATERIALIZED"), slices
    assert not [sql for sql, _ in statements if sql.startswith("CREATE TEMP")]
    assert len(reads) >= 5, reads  # the slice and the stats' four
    with database.connection_context():
        for sql, params in reads:
            nodes = [node for node in _plans(sql, params) if node.get("Relation Name") == "event"]
            assert nodes, sql
            assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], f"a sequential scan of event for: {sql}"
            # An index that only narrows to the app (its prefix) walks the other 24,000 events too.
            walked = [n for n in nodes if n.get("Rows Removed by Filter", 0) > 1000]
            assert not walked, f"an index that does not serve the read: {sql}, {walked}"
