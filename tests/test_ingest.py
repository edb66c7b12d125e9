"""Ingest over real HTTP: the Segment wire protocol, its limits and its error answers."""
from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from helpers.server import LiveServer, basic, http, make_tenant
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.sqlite_files import sqlite3


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def track(user="u1", **extra):
    event = {"type": "track", "event": "Song Played", "userId": user, "messageId": uuid.uuid4().hex,
             "timestamp": iso(datetime.now(UTC)), "properties": {"artist": "Björk"}}
    event.update(extra)
    return event


def send(server, key, payload, path="/v1/batch", headers=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    all_headers = {"Content-Type": "application/json", **basic(key), **(headers or {})}
    return http("POST", server.url + path, body, all_headers)


def count(query, sql="SELECT COUNT(*) FROM event"):
    return query(sql)[0][0]


def test_valid_batch_is_stored(live_server, tenant, query):
    events = [track(user=f"u{i}") for i in range(5)]
    reply = send(live_server, tenant.write_key, {"batch": events, "sentAt": iso(datetime.now(UTC))})
    assert reply.status == 200, reply.body
    assert reply.json() == {"success": True, "accepted": 5, "stored": 5, "duplicates": 0, "rejected": []}
    rows = query("SELECT user_id, name, type, json_extract(properties, '$.artist') FROM event ORDER BY id")
    assert rows == [(f"u{i}", "Song Played", "track", "Björk") for i in range(5)]


def test_same_batch_twice_is_stored_once(live_server, tenant, query):
    payload = {"batch": [track() for _ in range(20)]}
    first = send(live_server, tenant.write_key, payload)
    second = send(live_server, tenant.write_key, payload)
    assert (first.json()["stored"], second.json()["stored"], second.json()["duplicates"]) == (20, 0, 20)
    assert count(query) == 20


def test_message_ids_are_unique_per_app_not_globally(live_server, tenant, query):
    from helpers.server import make_tenant
    other = make_tenant("Other App")
    event = track()
    send(live_server, tenant.write_key, {"batch": [event]})
    send(live_server, other.write_key, {"batch": [event]})
    assert count(query) == 2


def test_gzip_body_is_accepted(live_server, tenant, query):
    body = gzip.compress(json.dumps({"batch": [track() for _ in range(50)]}).encode())
    reply = send(live_server, tenant.write_key, None, raw=body, headers={"Content-Encoding": "gzip"})
    assert reply.status == 200 and reply.json()["stored"] == 50


def test_gzip_bomb_is_refused_quickly(live_server, tenant, query):
    # 1 GB of zeros compresses to about 1 MB; send a 100 MB one (~100 KB on the wire).
    bomb = gzip.compress(b"0" * (100 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 500 * 1024
    started = time.monotonic()
    reply = send(live_server, tenant.write_key, None, raw=bomb, headers={"Content-Encoding": "gzip"})
    elapsed = time.monotonic() - started
    assert reply.status == 413
    assert reply.json()["error"]["code"] == "payload_too_large"
    assert elapsed < 2.0  # inflating all of it would take seconds and 100 MB
    assert count(query) == 0


def test_corrupt_gzip_is_a_clear_400(live_server, tenant):
    reply = send(live_server, tenant.write_key, None, raw=b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"})
    assert reply.status == 400 and reply.json()["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("auth", [
    {"Authorization": "Basic " + "bm9wZTo="},  # "nope:"
    {},
    {"Authorization": "Bearer rcp_w_not-a-real-key"},
    {"Authorization": "Basic !!!"},
])
def test_bad_or_missing_key_is_401(live_server, tenant, query, auth):
    reply = http("POST", live_server.url + "/v1/batch", json.dumps({"batch": [track()]}).encode(),
                 {"Content-Type": "application/json", **auth})
    assert reply.status == 401
    assert reply.json()["error"]["code"] == "unauthorized"
    assert count(query) == 0


def test_write_key_in_body_is_accepted(live_server, tenant, query):
    reply = http("POST", live_server.url + "/v1/batch",
                 json.dumps({"batch": [track()], "writeKey": tenant.write_key}).encode(),
                 {"Content-Type": "application/json"})
    assert reply.status == 200 and count(query) == 1


def test_revoked_key_is_refused_after_rotation(live_server, tenant, runner, query):
    result = runner.invoke(args=["keys", "rotate", tenant.name])
    assert result.exit_code == 0, result.output
    new_key = result.output.split("write_key: ")[1].strip()
    assert send(live_server, new_key, {"batch": [track()]}).status == 200
    assert send(live_server, tenant.write_key, {"batch": [track()]}).status == 401


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/html", "multipart/form-data"])
def test_wrong_content_type_is_415(live_server, tenant, content_type):
    reply = send(live_server, tenant.write_key, {"batch": [track()]}, headers={"Content-Type": content_type})
    assert reply.status == 415
    assert "Content-Type" in reply.json()["error"]["details"]


def test_text_plain_json_is_accepted_for_send_beacon(live_server, tenant, query):
    reply = send(live_server, tenant.write_key, {"batch": [track()]},
                 headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert reply.status == 200 and count(query) == 1


def test_too_large_body_is_413(live_server, tenant, query):
    events = [track(properties={"pad": "x" * 20_000}) for _ in range(30)]  # ~600 KB
    reply = send(live_server, tenant.write_key, {"batch": events})
    assert reply.status == 413 and reply.json()["error"]["code"] == "payload_too_large"
    assert count(query) == 0


def test_too_large_single_event_is_413(live_server, tenant, query):
    reply = send(live_server, tenant.write_key, track(properties={"pad": "x" * 40_000}), path="/v1/track")
    assert reply.status == 413
    assert count(query) == 0


def test_too_large_event_in_a_batch_is_named_and_the_rest_stored(live_server, tenant, query):
    events = [track(), track(properties={"pad": "x" * 40_000}), track()]
    reply = send(live_server, tenant.write_key, {"batch": events})
    assert reply.status == 200
    assert reply.json()["rejected"] == [{"index": 1, "field": "_event", "code": "too_large",
                                         "message": reply.json()["rejected"][0]["message"]}]
    assert count(query) == 2


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"batch": [1, 2', b"\xff\xfe"])
def test_malformed_json_is_400(live_server, tenant, raw):
    reply = send(live_server, tenant.write_key, None, raw=raw)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("payload, field", [
    ({"events": []}, "batch"),
    ({"batch": "nope"}, "batch"),
    ([1, 2, 3], "_body"),
])
def test_wrong_envelope_names_the_field(live_server, tenant, payload, field):
    reply = send(live_server, tenant.write_key, payload)
    assert reply.status == 422
    assert field in reply.json()["error"]["details"]


def test_batch_with_three_bad_events_stores_seven_and_names_three(live_server, tenant, query):
    events = [track(user=f"good{i}") for i in range(10)]
    events[2] = {"type": "track", "userId": "x", "messageId": "m2"}  # no event name
    events[5] = {"type": "track", "event": "E", "messageId": "m5"}  # no user at all
    events[8] = {"type": "track", "event": "E", "userId": ["not", "a", "string"], "messageId": "m8"}
    reply = send(live_server, tenant.write_key, {"batch": events})
    assert reply.status == 200
    body = reply.json()
    assert body["stored"] == 7
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [(2, "event"), (5, "userId"), (8, "userId")]
    assert all(r["message"] for r in body["rejected"])
    assert count(query) == 7


def test_batch_with_only_bad_events_is_422(live_server, tenant):
    reply = send(live_server, tenant.write_key, {"batch": [{"type": "bogus", "userId": "u"}]})
    assert reply.status == 422
    assert reply.json()["error"]["details"]["rejected"][0]["field"] == "type"


@pytest.mark.parametrize("route, event, field", [
    ("/v1/track", {"userId": "u"}, "event"),
    ("/v1/track", {"event": "E"}, "userId"),
    ("/v1/alias", {"userId": "u"}, "previousId"),
    ("/v1/group", {"userId": "u"}, "groupId"),
    ("/v1/page", {"userId": "u", "timestamp": "yesterday"}, "timestamp"),
    ("/v1/identify", {"userId": "u", "traits": [1]}, "traits"),
    ("/v1/track", {"userId": "", "event": "E"}, "userId"),
])
def test_single_event_routes_name_the_bad_field(live_server, tenant, route, event, field):
    reply = send(live_server, tenant.write_key, event, path=route)
    assert reply.status == 422, reply.body
    assert field in reply.json()["error"]["details"]


@pytest.mark.parametrize("route", ["/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/alias", "/v1/group"])
def test_single_event_routes_store_their_type(live_server, tenant, query, route):
    event = {"userId": "u1", "event": "E", "name": "Home", "previousId": "anon", "groupId": "g1",
             "traits": {"plan": "pro"}}
    assert send(live_server, tenant.write_key, event, path=route).status == 200
    assert query("SELECT type FROM event") == [(route.rsplit("/", 1)[1],)]


def test_anonymous_events_join_the_user_after_identify(live_server, tenant, query):
    anon = [track(user=None, anonymousId="device-1") for _ in range(3)]
    for e in anon:
        del e["userId"]
    send(live_server, tenant.write_key, {"batch": anon})
    identify = {"type": "identify", "userId": "alice", "anonymousId": "device-1",
                "traits": {"name": "Alice"}, "messageId": uuid.uuid4().hex}
    send(live_server, tenant.write_key, {"batch": [identify]})
    rows = query("""SELECT COUNT(*) FROM event WHERE app_id = ? AND (actor = 'u:alice' OR actor IN
                    (SELECT actor FROM identity WHERE app_id = ? AND user_id = 'alice'))""",
                 tenant.app_id, tenant.app_id)
    assert rows[0][0] == 4
    assert query("SELECT json_extract(traits, '$.name') FROM profile WHERE user_id = 'alice'") == [("Alice",)]


def test_alias_joins_a_previous_id(live_server, tenant, query):
    anon = track(user=None, anonymousId="visitor-9")
    del anon["userId"]
    send(live_server, tenant.write_key, {"batch": [anon, track(user="bob")]})
    send(live_server, tenant.write_key, {"previousId": "visitor-9", "userId": "bob"}, path="/v1/alias")
    assert query("SELECT user_id FROM identity WHERE actor = 'a:visitor-9'") == [("bob",)]


def test_identify_merges_traits_and_keeps_first_and_last_seen(live_server, tenant, query):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    send(live_server, tenant.write_key, {"batch": [
        {"type": "identify", "userId": "u", "traits": {"a": 1}, "timestamp": iso(t0)},
        {"type": "identify", "userId": "u", "traits": {"b": 2}, "timestamp": iso(t0 + timedelta(days=2))},
    ]})
    send(live_server, tenant.write_key, {"batch": [
        {"type": "identify", "userId": "u", "traits": {"a": 3}, "timestamp": iso(t0 + timedelta(days=1))}]})
    traits, first, last = query("SELECT traits, first_seen, last_seen FROM profile")[0]
    assert json.loads(traits) == {"a": 3, "b": 2}
    assert (first, last) == (int(t0.timestamp() * 1000), int((t0 + timedelta(days=2)).timestamp() * 1000))


def test_traits_merge_by_top_level_key_whether_sent_together_or_apart(live_server, tenant, query):
    """An identify sets the traits it names, whole, including a null: the same in one request,
    across requests (an upsert in SQL) and on PostgreSQL (whose || merges this way)."""
    first = {"address": {"city": "Lyon", "zip": "69001"}, "email": "a@example.com", "vip": True, "tags": [1, "x"]}
    second = {"address": {"city": "Paris"}, "email": None, "vip": False}
    send(live_server, tenant.write_key, {"batch": [{"type": "identify", "userId": "together", "traits": t}
                                                   for t in (first, second)]})
    for traits in (first, second):
        send(live_server, tenant.write_key, {"batch": [{"type": "identify", "userId": "apart", "traits": traits}]})
    merged = {user: json.loads(traits) for user, traits in query("SELECT user_id, traits FROM profile")}
    assert merged["together"] == merged["apart"] == {**first, **second}


def test_client_clock_three_hours_off_is_corrected(live_server, tenant, query):
    now = datetime.now(UTC)
    skewed = now + timedelta(hours=3)  # the device thinks it is three hours later
    event = track(timestamp=iso(skewed - timedelta(minutes=10)))  # happened ten minutes ago
    before = time.time() * 1000
    send(live_server, tenant.write_key, {"batch": [event], "sentAt": iso(skewed)})
    stored = query("SELECT timestamp FROM event")[0][0]
    expected = before - 10 * 60 * 1000
    assert abs(stored - expected) < 5_000


def test_events_record_the_users_utc_offset(live_server, tenant, query):
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    winter = datetime(2026, 1, 1, 12, tzinfo=UTC)
    ctx = {"timezone": "Europe/Berlin"}
    send(live_server, tenant.write_key, {"batch": [track(timestamp=iso(summer), context=ctx),
                                                   track(timestamp=iso(winter), context=ctx),
                                                   track(timestamp=iso(winter))]})
    assert query("SELECT utc_offset FROM event ORDER BY id") == [(120,), (60,), (0,)]


def test_cors_preflight_and_headers_for_browsers(live_server, tenant):
    reply = http("OPTIONS", live_server.url + "/v1/batch", headers={
        "Origin": "https://example.com", "Access-Control-Request-Method": "POST"})
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in reply.headers
    reply = send(live_server, tenant.write_key, {"batch": [track()]}, headers={"Origin": "https://example.com"})
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


def test_unknown_route_answers_json(live_server):
    reply = http("GET", live_server.url + "/v1/nope")
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"


def test_busy_store_answers_429_with_retry_after_and_the_retry_is_stored(tmp_path):
    # Another writer holds the SQLite write lock longer than the app's busy timeout.
    app = create_app({"INSTANCE_PATH": str(tmp_path / "busy"), "TESTING": True, "SQLITE_BUSY_TIMEOUT_MS": 200})
    tenant = make_tenant()
    server = LiveServer(app).start()
    holder = sqlite3.connect(app.config["DATABASE_URL"][len("sqlite:///"):], isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        payload = {"batch": [track() for _ in range(5)]}
        started = time.monotonic()
        busy = send(server, tenant.write_key, payload)
        assert busy.status == 429, busy.body
        assert busy.headers["Retry-After"] == "1"
        assert busy.json()["error"]["code"] == "too_many_requests"
        assert time.monotonic() - started < 1.0  # the busy timeout, not a hang
        holder.execute("ROLLBACK")

        retry = send(server, tenant.write_key, payload)
        assert retry.status == 200 and retry.json()["stored"] == 5
        assert holder.execute("SELECT COUNT(*) FROM event").fetchone() == (5,)
    finally:
        holder.close()
        server.stop()
        if not database.is_closed():
            database.close()


def test_concurrent_batches_share_commits_and_each_answer_counts_its_own_events(live_server, tenant, query):
    # 12 senders at once; each batch repeats half of the previous one, so answers must split
    # stored and duplicates per request even when requests share a transaction.
    from concurrent.futures import ThreadPoolExecutor

    events = [track(user=f"u{i % 7}") for i in range(12 * 40 + 40)]
    batches = [events[i * 40:i * 40 + 80] for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(pool.map(lambda b: send(live_server, tenant.write_key, {"batch": b}), batches))
    assert [r.status for r in replies] == [200] * 12
    bodies = [r.json() for r in replies]
    assert all(b["stored"] + b["duplicates"] == 80 for b in bodies)
    assert sum(b["stored"] for b in bodies) == len(events) == count(query)
    assert count(query, "SELECT COUNT(DISTINCT message_id) FROM event") == len(events)


def test_unexpected_failure_answers_json_500_with_cors_and_is_logged(live_server, tenant, query, caplog):
    # A real failure inside the store: the profile table is gone, so the write raises.
    query("ALTER TABLE profile RENAME TO profile_gone")
    reply = send(live_server, tenant.write_key, {"batch": [track()]}, headers={"Origin": "https://example.com"})
    assert reply.status == 500, reply.body
    assert reply.json() == {"error": {"code": "internal_error", "message": reply.json()["error"]["message"],
                                      "details": {}, "request_id": reply.headers["X-Request-Id"]}}
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert any(r.exc_info and "profile" in str(r.exc_info[1]) for r in caplog.records)
    assert count(query) == 0  # the transaction was rolled back; the client retries on 5xx


def test_http_errors_keep_their_status(live_server):
    reply = http("GET", live_server.url + "/v1/batch")
    assert reply.status == 405 and reply.json()["error"]["code"] == "method_not_allowed"
    assert reply.headers["Allow"]


def test_null_context_counts_as_absent(live_server, tenant, query):
    berlin = {"timezone": "Europe/Berlin"}
    winter = iso(datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert send(live_server, tenant.write_key, track(context=None), path="/v1/track").status == 200
    assert send(live_server, tenant.write_key, {"batch": [track()], "context": None}).status == 200
    reply = send(live_server, tenant.write_key, {"batch": [track(context=None, timestamp=winter)], "context": berlin})
    assert reply.status == 200, reply.body
    assert query("SELECT context, utc_offset FROM event ORDER BY id") == [
        (None, 0), (None, 0), (json.dumps(berlin), 60)]  # the batch's context fills in the null one


@pytest.mark.parametrize("context", [5, "Europe/Berlin", [1], True])
def test_batch_context_that_is_not_an_object_is_422(live_server, tenant, query, context):
    reply = send(live_server, tenant.write_key, {"batch": [track()], "context": context})
    assert reply.status == 422, reply.body
    assert "context" in reply.json()["error"]["details"]
    assert count(query) == 0


@pytest.mark.parametrize("timestamp", ["9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00",
                                       "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z"])
def test_timestamp_outside_the_years_is_refused_by_name(live_server, tenant, query, timestamp):
    reply = send(live_server, tenant.write_key, {"batch": [track(), track(timestamp=timestamp)]})
    assert reply.status == 200, reply.body
    assert [(r["index"], r["field"]) for r in reply.json()["rejected"]] == [(1, "timestamp")]
    assert count(query) == 1


@pytest.mark.parametrize("sent_at, timestamp", [
    ("0001-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),  # sentAt itself out of range
    ("9999-12-31T23:00:00-14:00", "2024-01-01T00:00:00Z"),
    ("2099-12-31T00:00:00Z", "1970-01-02T00:00:00Z"),  # both fine, the corrected time ~1896
    ("1970-01-02T00:00:00Z", "2099-12-31T00:00:00Z"),  # the corrected time ~2156
])
def test_sent_at_that_would_store_an_absurd_time_is_422(live_server, tenant, query, sent_at, timestamp):
    reply = send(live_server, tenant.write_key, {"batch": [track(timestamp=timestamp)], "sentAt": sent_at})
    assert reply.status == 422, reply.body
    assert "sentAt" in reply.json()["error"]["details"]
    assert count(query) == 0 and count(query, "SELECT COUNT(*) FROM profile") == 0


@pytest.mark.parametrize("path, raw", [
    ("/v1/batch", b'{"batch":[{"type":"track","event":"E","userId":"u","properties":{"a":"\xff\xfe"}}]}'),
    ("/v1/batch", b'{"batch":[{"type":"identify","userId":"u","traits":{"\xc3":1}}]}'),
    ("/v1/batch", b'{"batch":[{"type":"track","event":"E","userId":"u","context":{"ip":"\xed\xa0\x80"}}]}'),
    ("/v1/batch", b'{"batch":[{"type":"track","event":"E","userId":"u"}],"context":{"a":"\xff"}}'),
    ("/v1/track", b'{"event":"E","userId":"u","properties":{"a":"\xff"}}'),
])
@pytest.mark.parametrize("gzipped", [False, True])
def test_body_that_is_not_utf8_is_a_clear_400(live_server, tenant, query, path, raw, gzipped):
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    reply = send(live_server, tenant.write_key, None, path=path, raw=gzip.compress(raw) if gzipped else raw,
                 headers=headers)
    assert reply.status == 400, reply.body
    error = reply.json()["error"]
    assert error["code"] == "malformed_body" and "UTF-8" in error["details"]["_body"][0]
    assert count(query) == 0


@pytest.mark.parametrize("path, template", [
    ("/v1/batch", '{"batch":[{"type":"track","event":"E","userId":"u","properties":{"a":%s}}]}'),
    ("/v1/track", '{"event":"E","userId":"u","properties":{"a":%s}}'),
    ("/v1/identify", '{"userId":"u","traits":{"a":%s}}'),
])
def test_deeply_nested_json_is_a_clear_400(live_server, tenant, query, path, template):
    deep = "[" * 5000 + "]" * 5000
    reply = send(live_server, tenant.write_key, None, path=path, raw=(template % deep).encode())
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["code"] == "malformed_body" and "_body" in reply.json()["error"]["details"]
    fine = "[" * 100 + "]" * 100
    assert send(live_server, tenant.write_key, None, path=path, raw=(template % fine).encode()).status == 200
    assert count(query) == 1


@pytest.mark.parametrize("damage", [
    lambda gz: gz[:-8],  # the CRC and size trailer cut off
    lambda gz: gz[:len(gz) // 2],
    lambda gz: gz + b"GARBAGE",
    lambda gz: gz + gzip.compress(b"{}"),  # a second member would be ignored
], ids=["no trailer", "half", "trailing garbage", "two members"])
def test_truncated_or_padded_gzip_is_a_clear_400(live_server, tenant, query, damage):
    body = damage(gzip.compress(json.dumps({"batch": [track() for _ in range(20)]}).encode()))
    reply = send(live_server, tenant.write_key, None, raw=body, headers={"Content-Encoding": "gzip"})
    assert reply.status == 400, reply.body
    assert reply.json()["error"] == {"code": "malformed_body", "message": "The gzip body is truncated or corrupt.",
                                     "details": {"_body": ["The gzip body is truncated or corrupt."]},
                                     "request_id": reply.headers["X-Request-Id"]}
    assert count(query) == 0


def test_viewer_token_cannot_claim_another_devices_history(live_server, tenant, query):
    victim = track(user=None, anonymousId="victim-device", event="Private")
    del victim["userId"]
    assert send(live_server, tenant.write_key, {"batch": [victim]}).status == 200
    token = http("POST", live_server.url + "/v1/viewer-tokens", json.dumps({"user_id": "mallory"}).encode(),
                 {"Content-Type": "application/json", **basic(tenant.secret_key)}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    claim = {"type": "track", "event": "x", "anonymousId": "victim-device"}
    assert send(live_server, tenant.write_key, {"batch": [claim]}, headers=bearer).status == 200
    alias = send(live_server, tenant.write_key, {"userId": "x", "previousId": "victim-device"},
                 path="/v1/alias", headers=bearer)
    assert alias.status == 422 and "type" in alias.json()["error"]["details"]  # a viewer sends track events only
    assert query("SELECT actor, user_id FROM identity") == []
    assert query("SELECT DISTINCT anonymous_id FROM event WHERE user_id = 'mallory'") == [(None,)]

    # The victim signs in later: their anonymous history is still theirs to claim.
    login = {"type": "identify", "userId": "victim", "anonymousId": "victim-device", "messageId": uuid.uuid4().hex}
    assert send(live_server, tenant.write_key, {"batch": [login]}).status == 200
    assert query("SELECT user_id FROM identity WHERE actor = 'a:victim-device'") == [("victim",)]


def test_traits_nested_near_the_limit_never_fail_the_server(live_server, tenant, query):
    # The body's check runs a few stack frames above the identify merge, which decodes traits.
    statuses = {send(live_server, tenant.write_key, None, path="/v1/identify",
                     raw=b'{"userId":"u","traits":{"a":%s}}' % (b"[" * d + b"]" * d)).status
                for d in range(900, 1000)}
    assert statuses <= {200, 400, 422} and {200, 400} <= statuses


def viewer(server, tenant, user="mallory") -> dict:
    token = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": user}).encode(),
                 {"Content-Type": "application/json", **basic(tenant.secret_key)}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


OUT_OF_RANGE = [
    ('{"type":"identify","userId":"u","traits":{"plan":"pro","score":1e400}}', "traits.score"),
    ('{"type":"identify","userId":"u","traits":{"n":-1E+400}}', "traits.n"),
    ('{"type":"track","event":"E","userId":"u","context":{"timezone":1e400}}', "context.timezone"),
    ('{"type":"track","event":"E","userId":"u","properties":{"a":[1,{"b":1e400}]}}', "properties.a[1].b"),
    ('{"type":"track","event":"E","userId":"u","properties":{"a":%s}}' % ("9" * 400), "properties.a"),
    ('{"type":"track","event":"E","userId":"u","properties":{"a":%s}}' % ("9" * 5000), "properties"),
    ('{"type":"identify","userId":"u","traits":{"id":9223372036854775808}}', "traits.id"),
    ('{"type":"identify","userId":"u","traits":{"id":-9223372036854775809}}', "traits.id"),
    ('{"type":"track","event":"E","userId":1e400}', "userId"),
]


@pytest.mark.parametrize("event, field", OUT_OF_RANGE)
def test_a_number_out_of_range_rejects_its_event_by_field_and_the_rest_are_stored(live_server, tenant, query,
                                                                                   event, field):
    good = json.dumps(track())
    raw = ('{"batch":[%s,%s,%s]}' % (good, event, json.dumps(track()))).encode()
    reply = send(live_server, tenant.write_key, None, raw=raw)
    assert reply.status == 200, reply.body
    assert [(r["index"], r["field"], r["code"]) for r in reply.json()["rejected"]] == [(1, field, "invalid")]
    assert reply.json()["stored"] == 2 and count(query) == 2
    kind = event.split('"type":"')[1].split('"')[0]
    single = send(live_server, tenant.write_key, None, raw=event.encode(), path=f"/v1/{kind}")
    assert single.status == 422 and field in single.json()["error"]["details"], single.body


def test_numbers_inside_the_ranges_are_kept_exactly(live_server, tenant, query):
    traits = '{"max":9223372036854775807,"min":-9223372036854775808,"big":1.7e308,"tiny":5e-324,"text":"x:1e400"}'
    raw = ('{"batch":[{"type":"identify","userId":"u","traits":%s}]}' % traits).encode()
    assert send(live_server, tenant.write_key, None, raw=raw).json()["stored"] == 1
    stored = json.loads(query("SELECT traits FROM profile")[0][0])
    assert stored == json.loads(traits)
    export = http("POST", live_server.url + "/v1/users/export", b'{"user_id": "u"}',
                  {"Content-Type": "application/json", **basic(tenant.secret_key)})
    strict = json.loads(export.body, parse_constant=lambda name: pytest.fail(f"export holds {name}"))
    assert strict["profile"]["traits"]["max"] == 2 ** 63 - 1


def test_a_batch_context_out_of_range_is_422_naming_it(live_server, tenant, query):
    raw = ('{"batch":[%s],"context":{"timezone":1e400}}' % json.dumps(track())).encode()
    reply = send(live_server, tenant.write_key, None, raw=raw)
    assert reply.status == 422, reply.body
    assert "context.timezone" in reply.json()["error"]["details"]
    assert count(query) == 0


def test_a_viewers_dwell_of_1e400_is_refused_and_stats_keep_answering(live_server, tenant, query):
    frame = '{"type":"track","event":"frame_viewed","properties":{"template":"year-in-music","frame_id":"f1",'
    raw = ('{"batch":[%s"index":0,"dwell_ms":1e400}},%s"index":1,"dwell_ms":2000}}]}' % (frame, frame)).encode()
    reply = send(live_server, tenant.write_key, None, raw=raw, headers=viewer(live_server, tenant))
    assert reply.status == 200, reply.body
    assert [(r["index"], r["field"]) for r in reply.json()["rejected"]] == [(0, "properties.dwell_ms")]
    stats = http("GET", live_server.url + "/v1/stats/stories/year-in-music", headers=basic(tenant.secret_key))
    assert stats.status == 200, stats.body
    assert [f["avg_dwell_ms"] for f in stats.json()["frames"]] == [2000]


def test_answers_keep_their_keys_in_the_order_they_are_built(live_server, tenant):
    reply = send(live_server, tenant.write_key, {"batch": [track()]})
    assert list(json.loads(reply.body)) == ["success", "accepted", "stored", "duplicates", "rejected"]
    error = send(live_server, tenant.write_key, None, raw=b"{nope")
    assert list(json.loads(error.body)["error"]) == ["code", "message", "details", "request_id"]


@pytest.fixture
def frozen_clock(monkeypatch):
    """The viewer limiter's clock, moved by hand."""
    from widget_server.ingest import routes
    now = [1000.0]
    monkeypatch.setattr(routes.viewer_limiter, "clock", lambda: now[0])
    return now


def frames(n: int) -> list[dict]:
    return [{"type": "track", "event": "frame_viewed", "messageId": uuid.uuid4().hex,
             "properties": {"template": "year-in-music", "frame_id": f"f{i}", "index": i, "dwell_ms": 900}}
            for i in range(n)]


def test_a_viewer_token_is_bounded_per_user_with_429_and_retry_after(tmp_path, frozen_clock):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "bounded"), "TESTING": True, "VIEWER_EVENTS_BURST": 10,
                      "VIEWER_EVENTS_PER_MINUTE": 120, "VIEWER_MAX_EVENTS_PER_BATCH": 8})
    tenant = make_tenant()
    server = LiveServer(app).start()
    try:
        mallory, other = viewer(server, tenant, "mallory"), viewer(server, tenant, "ana")
        assert send(server, tenant.write_key, {"batch": frames(8)}, headers=mallory).json()["stored"] == 8
        too_many = send(server, tenant.write_key, {"batch": frames(9)}, headers=mallory)
        assert too_many.status == 413 and too_many.json()["error"]["details"]["limit"] == 8
        over = send(server, tenant.write_key, {"batch": frames(3)}, headers=mallory)
        assert over.status == 429, over.body
        assert over.headers["Retry-After"] == "1"  # 2 tokens left, 2 per second
        assert send(server, tenant.write_key, frames(1)[0], path="/v1/track", headers=mallory).status == 200
        # Another user of the same app is not held back; a fresh token of mallory's is.
        assert send(server, tenant.write_key, {"batch": frames(8)}, headers=other).status == 200
        again = viewer(server, tenant, "mallory")
        assert send(server, tenant.write_key, {"batch": frames(3)}, headers=again).status == 429
        frozen_clock[0] += 2  # 4 more tokens
        assert send(server, tenant.write_key, {"batch": frames(3)}, headers=again).status == 200
        # The app's own keys are not viewer-bounded.
        assert send(server, tenant.write_key, {"batch": [e | {"userId": "srv"} for e in frames(16)]}).status == 200
        with database.connection_context():
            counts = dict(database.execute_sql("SELECT user_id, COUNT(*) FROM event GROUP BY 1").fetchall())
        assert counts == {"mallory": 8 + 1 + 3, "ana": 8, "srv": 16}
    finally:
        server.stop()
        if not database.is_closed():
            database.close()


@pytest.mark.parametrize("kind", ["identify", "group", "alias", "page", "screen"])
def test_a_viewer_token_sends_only_track_events(live_server, tenant, query, kind):
    event = {"type": kind, "traits": {"photo_url": "https://evil.example/x.png"}, "groupId": "g", "previousId": "p",
             "name": "n"}
    reply = send(live_server, tenant.write_key, {"batch": [event, frames(1)[0]]}, headers=viewer(live_server, tenant))
    assert reply.status == 200, reply.body
    assert [(r["index"], r["field"]) for r in reply.json()["rejected"]] == [(0, "type")]
    assert query("SELECT type FROM event") == [("track",)] and query("SELECT traits FROM profile") == [("{}",)]
