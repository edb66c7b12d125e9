"""On PostgreSQL too, a write that cannot get its lock in time is a 503 with Retry-After, not
a 500 (a real cluster, as in test_postgres)."""
from __future__ import annotations

import json
import urllib.parse

import psycopg2

from helpers.postgres import new_database
from helpers.server import LiveServer, basic, http, make_tenant
from widget_server import create_app
from widget_server.store.db import database


def test_a_write_past_its_lock_timeout_answers_503_with_retry_after(postgres, tmp_path):
    url = new_database(postgres, "lock_timeout")
    options = urllib.parse.quote("-c lock_timeout=300")  # the operator's bound on lock waits
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "DATABASE_URL": f"{url}?options={options}"})
    tenant = make_tenant()
    server = LiveServer(app).start()
    other = psycopg2.connect(url)
    try:
        with other.cursor() as cursor:  # a long migration or maintenance job holds the table
            cursor.execute("LOCK TABLE viewer_grant IN ACCESS EXCLUSIVE MODE")
            reply = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": "u1"}).encode(),
                         {"Content-Type": "application/json", **basic(tenant.secret_key)})
        other.rollback()
        again = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": "u1"}).encode(),
                     {"Content-Type": "application/json", **basic(tenant.secret_key)})
    finally:
        other.close()
        server.stop()
        if not database.is_closed():
            database.close()
    assert reply.status == 503, reply.body
    assert reply.headers["Retry-After"] == "1" and reply.json()["error"]["code"] == "store_busy"
    assert again.status == 201


def test_ingest_past_its_lock_timeout_answers_429_as_on_sqlite(postgres, tmp_path):
    """Ingest's documented answer to a busy store is 429 on both databases (PostgreSQL's lock
    timeout said neither 'locked' nor 'busy', so ingest on PostgreSQL answered 503 instead)."""
    url = new_database(postgres, "ingest_lock_timeout")
    options = urllib.parse.quote("-c lock_timeout=300")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "DATABASE_URL": f"{url}?options={options}"})
    tenant = make_tenant()
    server = LiveServer(app).start()
    body = json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u1", "messageId": "m1"}]}).encode()
    headers = {"Content-Type": "application/json", **basic(tenant.write_key)}
    other = psycopg2.connect(url)
    try:
        with other.cursor() as cursor:
            cursor.execute("LOCK TABLE event IN ACCESS EXCLUSIVE MODE")
            reply = http("POST", server.url + "/v1/batch", body, headers)
        other.rollback()
        again = http("POST", server.url + "/v1/batch", body, headers)
    finally:
        other.close()
        server.stop()
        if not database.is_closed():
            database.close()
    assert reply.status == 429, reply.body
    assert reply.headers["Retry-After"] == "1" and reply.json()["error"]["code"] == "too_many_requests"
    assert again.status == 200 and again.json()["stored"] == 1
