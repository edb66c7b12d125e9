"""Events are found through tables built behind ingest (by user, by name) plus the tail not yet
passed: every event exactly once, whatever the pass has done so far; repeats are never stored."""
from __future__ import annotations

import json
import os
import re
import time
import uuid

import pytest

from helpers.event_keys import catch_up, expected, found
from helpers.server import basic, http, make_tenant
from widget_server.store import event_keys, migrations, sqlite_files
from widget_server.store.db import database


def steps_from(version: int) -> list[int]:
    """The schema steps an upgrade from ``version - 1`` applies: that one and every later one."""
    return list(range(version, len(migrations.MIGRATIONS) + 1))


def send(server, key, events):
    reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": events}).encode(),
                 {"Content-Type": "application/json", **basic(key)})
    assert reply.status == 200, reply.body
    return reply


def track(actor_field, actor, n):
    return [{"type": "track", "event": "Song Played", actor_field: actor, "messageId": uuid.uuid4().hex,
             "properties": {"n": i}} for i in range(n)]


def test_events_are_found_exactly_once_indexed_half_indexed_and_not_at_all(live_server, tenant, query):
    send(live_server, tenant.write_key, track("userId", "ana", 30) + track("anonymousId", "dev-1", 5)
         + track("userId", "bo", 20))
    actors = ["u:ana", "a:dev-1"]
    everything = expected(query, tenant.app_id, actors)
    assert len(everything) == 35

    catch_up()
    assert found(query, tenant.app_id, actors) == everything
    assert query("SELECT indexed_through FROM keys.event_index_state") == query("SELECT MAX(id) FROM event")

    # Half indexed: the watermark in the middle of ana's events, the rows above it only in the tail.
    middle = everything[15]
    with database.connection_context(), database.atomic():
        for table in ("message_key", "event_by_actor", "event_by_name"):
            database.execute_sql(f"DELETE FROM {table} WHERE event_id > ?", (middle,))
        database.execute_sql("UPDATE event_index_state SET indexed_through = ?", (middle,))
    assert found(query, tenant.app_id, actors) == everything

    # Nothing indexed: all from the tail.
    with database.connection_context(), database.atomic():
        for table in ("message_key", "event_by_actor", "event_by_name"):
            database.execute_sql(f"DELETE FROM {table}")
        database.execute_sql("UPDATE event_index_state SET indexed_through = 0")
    assert found(query, tenant.app_id, actors) == everything

    assert catch_up() == query("SELECT MAX(id) FROM event")[0][0]  # all of them, once
    assert found(query, tenant.app_id, actors) == everything
    assert query("SELECT COUNT(*) FROM event_by_actor") == query("SELECT COUNT(*) FROM event")


def test_time_range_and_app_are_respected(live_server, tenant, query):
    other = make_tenant("Other App")
    send(live_server, tenant.write_key, track("userId", "ana", 3))
    send(live_server, other.write_key, track("userId", "ana", 4))
    ours = expected(query, tenant.app_id, ["u:ana"])
    assert found(query, tenant.app_id, ["u:ana"]) == ours and len(ours) == 3
    catch_up()
    assert found(query, other.app_id, ["u:ana"]) == expected(query, other.app_id, ["u:ana"])
    assert found(query, tenant.app_id, ["u:ana"], (0, 1)) == []


def test_the_background_indexer_catches_up_after_ingest(live_server, tenant, query, monkeypatch):
    # A short tail is passed once its oldest event is MAX_TAIL_AGE_MS old (5 s); the indexer
    # wakes every 0.5 s. Both shortened, so the test waits for the pass rather than the clock.
    monkeypatch.setattr(event_keys, "MAX_TAIL_AGE_MS", 200)
    monkeypatch.setattr(event_keys.indexer, "interval", 0.05)
    send(live_server, tenant.write_key, track("userId", "ana", 50))
    top = query("SELECT MAX(id) FROM event")[0][0]
    deadline = time.monotonic() + 20
    while query("SELECT indexed_through FROM keys.event_index_state")[0][0] < top:
        assert time.monotonic() < deadline, "the indexer did not index new events"
        time.sleep(0.1)
    assert query("SELECT COUNT(*) FROM event_by_actor WHERE actor = 'u:ana'") == [(50,)]


def test_reading_a_user_never_scans_the_event_table(app, tenant, query):
    condition, params = event_keys.by_actor("e", tenant.app_id, ["u:a", "a:b"], 0, 1)
    plan = " | ".join(row[3] for row in query(f"EXPLAIN QUERY PLAN SELECT e.id FROM event e WHERE {condition}",
                                               *params))
    assert not re.search(r"SCAN (e|event)\b", plan), plan
    assert "SEARCH event_by_actor USING PRIMARY KEY" in plan and "INTEGER PRIMARY KEY (rowid>?)" in plan, plan


def test_schema_1_upgrades_to_the_bulk_built_index(app, tenant, query):
    # Take the database back to schema 1: events under the ordinary per-user index.
    with database.connection_context(), database.atomic():
        for sql in ("DROP TABLE message_key", "DROP TABLE event_by_actor", "DROP TABLE event_by_name",
                    "DROP TABLE event_index_state",
                    "CREATE INDEX event_app_id_actor_timestamp ON event (app_id, actor, timestamp)",
                    "CREATE INDEX event_app_id_name_timestamp ON event (app_id, name, timestamp)",
                    "DELETE FROM schema_version WHERE version > 1"):
            database.execute_sql(sql)
        for i in range(10):
            database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                                 "utc_offset, received_at) VALUES (?, ?, 'track', 'x', 'ana', "
                                 "'u:ana', ?, 0, ?)", (tenant.app_id, f"m{i}", 1000 + i, 1000 + i))

    assert migrations.upgrade() == steps_from(2)
    indexes = [row[0] for row in query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event'")]
    assert indexes == []  # ingest appends; keys are indexed in bulk
    assert_keys_complete(query, tenant.app_id, 10)


def test_schema_2_moves_the_keys_out_of_the_store(app, tenant, query):
    # Schema 2 kept the key tables in the store itself.
    with database.connection_context(), database.atomic():
        database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                             "utc_offset, received_at) VALUES (?, 'm', 'track', 'x', 'ana', 'u:ana', 1, 0, 1)",
                             (tenant.app_id,))
        for sql in ("CREATE TABLE main.message_key (app_id INTEGER NOT NULL, message_id TEXT NOT NULL, "
                    "event_id INTEGER NOT NULL, PRIMARY KEY (app_id, message_id)) WITHOUT ROWID",
                    "CREATE TABLE main.event_index_state (id INTEGER PRIMARY KEY, indexed_through INTEGER NOT NULL)",
                    "DELETE FROM schema_version WHERE version > 2"):
            database.execute_sql(sql)
    assert migrations.upgrade() == steps_from(3)
    assert query("SELECT name FROM main.sqlite_master WHERE name IN ('message_key', 'event_index_state')") == []
    assert_keys_complete(query, tenant.app_id, 1)


# The event table exactly as schema 2 made it (peewee's default for client_timestamp lived in
# Python, so SQL has none), with the partial index it kept for the player's events.
SCHEMA_2_EVENT = (
    'CREATE TABLE "event" ("id" INTEGER NOT NULL PRIMARY KEY, "app_id" INTEGER NOT NULL, '
    '"message_id" VARCHAR(200) NOT NULL, "type" VARCHAR(10) NOT NULL, "name" VARCHAR(200), '
    '"user_id" VARCHAR(200), "anonymous_id" VARCHAR(200), "actor" VARCHAR(202) NOT NULL, '
    '"timestamp" INTEGER NOT NULL, "utc_offset" INTEGER NOT NULL, "received_at" INTEGER NOT NULL, '
    '"properties" TEXT, "context" TEXT, "client_timestamp" INTEGER NOT NULL)',
    "CREATE INDEX event_engagement ON event (app_id, name, timestamp) WHERE (name = 'story_viewed' "
    "OR name = 'frame_viewed' OR name = 'story_completed' OR name = 'story_shared' OR name = 'story_closed')",
)


def test_a_store_made_by_schema_2_takes_events_again_after_the_upgrade(live_server, tenant, query):
    columns_now = [row[1] for row in query("PRAGMA table_info(event)")]
    with database.connection_context(), database.atomic():
        for sql in ("DROP TABLE event", *SCHEMA_2_EVENT, "DELETE FROM schema_version WHERE version > 2"):
            database.execute_sql(sql)
        database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                             "utc_offset, received_at, client_timestamp) VALUES "
                             "(?, 'old', 'track', 'x', 'ana', 'u:ana', 1, 0, 1, 1)", (tenant.app_id,))

    assert migrations.upgrade() == steps_from(3)
    assert [row[1] for row in query("PRAGMA table_info(event)")] == columns_now
    assert query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event'") == []
    reply = send(live_server, tenant.write_key, track("userId", "ana", 3))
    assert json.loads(reply.body)["stored"] == 3  # every insert failed on the schema 2 table
    assert len(found(query, tenant.app_id, ["u:ana"])) == 4


def assert_keys_complete(query, app_id, n):
    assert query("SELECT indexed_through FROM keys.event_index_state") == query("SELECT MAX(id) FROM event")
    assert query("SELECT COUNT(*) FROM keys.event_by_actor") == [(n,)]
    assert query("SELECT (SELECT COUNT(*) FROM keys.message_key) + (SELECT COUNT(*) FROM keys.recent_message_key)") \
        == [(n,)]
    assert query("SELECT COUNT(*) FROM keys.event_by_name WHERE name = 'x'") == [(n,)]
    assert found(query, app_id, ["u:ana"]) == expected(query, app_id, ["u:ana"])


@pytest.mark.parametrize("damage", ["deleted", "another store's", "ahead of the store", "another layout"])
def test_keys_that_do_not_belong_to_the_store_are_rebuilt_at_start(app, tenant, query, damage):
    with database.connection_context(), database.atomic():
        for i in range(10):
            database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                                 "utc_offset, received_at) VALUES (?, ?, 'track', 'x', 'ana', "
                                 "'u:ana', ?, 0, ?)", (tenant.app_id, f"m{i}", 1000 + i, 1000 + i))
    catch_up()
    keys = sqlite_files.keys_path(database.obj.database)
    if damage == "deleted":
        database.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(keys + suffix):
                os.remove(keys + suffix)
    else:
        # Another store's keys: its last passed row is not ours; or keys past our newest event.
        sql = {"another store's": "UPDATE keys.event_index_state SET last_message_id = 'theirs'",
               "ahead of the store": "UPDATE keys.event_index_state SET indexed_through = indexed_through + 5, "
                                     "last_event_id = NULL",
               "another layout": "PRAGMA keys.user_version = 0"}[damage]
        with database.connection_context(), database.atomic():
            database.execute_sql(sql)
            database.execute_sql("DELETE FROM keys.event_by_actor")  # only a rebuild brings them back
    assert migrations.upgrade() == []  # what every start does
    assert_keys_complete(query, tenant.app_id, 10)


def test_ingest_goes_on_while_a_pass_holds_the_keys_file(live_server, tenant, query):
    path = database.obj.database
    pass_in_progress = event_keys.keys_connection(path)
    pass_in_progress.execute("BEGIN IMMEDIATE")  # the keys file's write lock, as a pass holds it
    try:
        reply = send(live_server, tenant.write_key, track("userId", "ana", 20)).json()
        assert reply["stored"] == 20
        again = send(live_server, tenant.write_key, [track("userId", "ana", 1)[0]] * 2).json()
        assert (again["stored"], again["duplicates"]) == (1, 1)
    finally:
        pass_in_progress.execute("ROLLBACK")
        pass_in_progress.close()
    assert query("SELECT COUNT(*) FROM event") == [(21,)]


def test_a_repeat_is_not_stored_whether_its_first_copy_was_passed_or_not(live_server, tenant, query):
    first = track("userId", "ana", 10)
    send(live_server, tenant.write_key, first)
    again = send(live_server, tenant.write_key, first).json()  # most likely still in the tail
    assert (again["stored"], again["duplicates"]) == (0, 10)
    catch_up()
    again = send(live_server, tenant.write_key, first[:5] + track("userId", "ana", 2)).json()
    assert (again["stored"], again["duplicates"]) == (2, 5)
    assert query("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM event") == [(12, 12)]


@pytest.mark.parametrize("passed", [False, True])
def test_a_message_id_is_unique_per_app_whatever_its_timestamp(live_server, tenant, query, passed):
    event = track("userId", "ana", 1)[0] | {"timestamp": "2026-03-01T10:00:00Z"}
    send(live_server, tenant.write_key, [event])
    if passed:
        catch_up()
    later = send(live_server, tenant.write_key, [event | {"timestamp": "2026-03-02T10:00:00Z"}]).json()
    assert (later["stored"], later["duplicates"]) == (0, 1)
    other = make_tenant("Other App")  # per app: another app may use the same id
    assert send(live_server, other.write_key, [event]).json()["stored"] == 1
    assert query("SELECT app_id, timestamp FROM event ORDER BY id") == [
        (tenant.app_id, 1772359200000), (other.app_id, 1772359200000)]


@pytest.mark.parametrize("message_id", ["shared-1", "with\x1fthe separator\nand a newline"])
def test_a_row_another_process_wrote_counts_as_stored(live_server, tenant, query, message_id):
    send(live_server, tenant.write_key, track("userId", "ana", 3))  # this process has read the tail
    # Another server process appended this message id a moment ago (straight into the file).
    with database.connection_context(), database.atomic():
        database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                             "utc_offset, received_at) VALUES (?, ?, 'track', 'x', "
                             "'ana', 'u:ana', 1, 0, 1)", (tenant.app_id, message_id))
    event = track("userId", "ana", 1)[0] | {"messageId": message_id}
    reply = send(live_server, tenant.write_key, [event, track("userId", "ana", 1)[0]]).json()
    assert (reply["stored"], reply["duplicates"]) == (1, 1)


def test_a_repeat_that_skipped_the_check_is_never_found(app, tenant, query):
    with database.connection_context(), database.atomic():
        for _ in range(2):  # a writer that does not check, e.g. a hand-made import
            database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                                 "utc_offset, received_at) VALUES (?, 'twice', 'track', 'x', "
                                 "'ana', 'u:ana', 5, 0, 5)", (tenant.app_id,))
    catch_up()
    first = query("SELECT MIN(id) FROM event")[0][0]
    assert found(query, tenant.app_id, ["u:ana"]) == [first]
    assert query("SELECT COUNT(*) FROM event_by_actor") == [(1,)]
    assert query("SELECT COUNT(*) FROM event_by_name") == [(1,)]


def key_tables(query):
    """(message_key's keys, recent_message_key's keys), and the counts the state keeps."""
    tables = tuple(sorted(row[0] for row in query(f"SELECT message_id FROM {table}"))
                   for table in event_keys.MESSAGE_KEY_TABLES)
    return tables, query("SELECT settled_keys, recent_keys FROM event_index_state")[0]


def test_recent_keys_are_checked_and_folded_into_message_key(live_server, tenant, query, monkeypatch):
    monkeypatch.setattr(event_keys, "DIRECT_BELOW", 10)  # (2M and 16 in production)
    monkeypatch.setattr(event_keys, "RECENT_SHARE", 2)
    first, second, third = track("userId", "ana", 10), track("userId", "ana", 3), track("userId", "ana", 2)
    ids = [[e["messageId"] for e in batch] for batch in (first, second, third)]
    send(live_server, tenant.write_key, first)
    catch_up()  # under 10 keys: straight into message_key
    send(live_server, tenant.write_key, second)
    catch_up()  # 10 keys: new ones go to recent_message_key, 3 × 2 < 10 so they stay there
    assert key_tables(query) == ((sorted(ids[0]), sorted(ids[1])), (10, 3))

    # Repeats of keys in either table are found; a writer that skips the check is not made findable.
    again = send(live_server, tenant.write_key, first[:4] + second + third).json()
    assert (again["stored"], again["duplicates"]) == (2, 7)
    with database.connection_context(), database.atomic():
        database.execute_sql("INSERT INTO event (app_id, message_id, type, name, user_id, actor, timestamp, "
                             "utc_offset, received_at) VALUES (?, ?, 'track', 'x', 'ana', 'u:ana', 5, 0, 5)",
                             (tenant.app_id, ids[0][0]))  # held by message_key
    catch_up()  # 5 × 2 >= 10: recent keys folded into message_key
    assert key_tables(query) == ((sorted(ids[0] + ids[1] + ids[2]), []), (15, 0))
    assert len(found(query, tenant.app_id, ["u:ana"])) == 15
    again = send(live_server, tenant.write_key, second + track("userId", "ana", 1)).json()
    assert (again["stored"], again["duplicates"]) == (1, 3)


def test_story_stats_read_events_by_name_not_the_whole_store(app, tenant, query):
    from widget_server.player.stats import _scope

    where, params = _scope(tenant.app_id, "year-in-music", 0, ("story_viewed", "story_completed"))
    plan = " | ".join(row[3] for row in query(f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM event WHERE {where}",
                                               *params))
    assert not re.search(r"SCAN (e|event)\b", plan), plan
    assert "SEARCH event_by_name USING PRIMARY KEY" in plan, plan
