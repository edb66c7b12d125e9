"""Failures of the store answered as what they are: a locked store is 503 with Retry-After, a
read-then-write transaction waits for the lock instead of failing, a bug is a 500 that promises
nothing, and every answer carries its request id."""
from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid

import pytest

from helpers.server import LiveServer, basic, http, make_tenant
from helpers.share import png_bytes
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.sqlite_files import sqlite3

SHORT_BUSY_MS = 300


def post(server, path: str, payload: dict, key: str):
    return http("POST", server.url + path, json.dumps(payload).encode(),
                {"Content-Type": "application/json", **basic(key)})


def events(user: str, n: int) -> list[dict]:
    return [{"type": "track", "event": "Song Played", "userId": user, "messageId": uuid.uuid4().hex,
             "properties": {"artist": f"a{i % 9}"}} for i in range(n)]


@pytest.fixture
def impatient(tmp_path):
    """A live server whose writes wait only SHORT_BUSY_MS for the SQLite write lock."""
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "SQLITE_BUSY_TIMEOUT_MS": SHORT_BUSY_MS})
    server = LiveServer(app).start()
    yield server
    server.stop()
    if not database.is_closed():
        database.close()


@contextlib.contextmanager
def write_lock_held(server):
    """Another connection holds the store's write lock (a long write elsewhere)."""
    con = sqlite3.connect(server.app.config["DATABASE_URL"][len("sqlite:///"):], isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


@pytest.mark.parametrize("path, payload", [
    ("/v1/viewer-tokens", {"user_id": "u1"}),
    ("/v1/users/erase", {"user_id": "u1"}),
])
def test_write_waiting_past_the_busy_timeout_answers_503_with_retry_after(impatient, path, payload):
    tenant = make_tenant()
    with write_lock_held(impatient):
        reply = post(impatient, path, payload, tenant.secret_key)
    assert reply.status == 503, reply.body
    assert reply.headers["Retry-After"] == "1"
    assert reply.json()["error"]["code"] == "store_busy"
    assert post(impatient, path, payload, tenant.secret_key).status in (200, 201)  # free again: it works


def test_upload_refused_while_the_store_is_locked_leaves_no_file(impatient):
    tenant = make_tenant()
    with write_lock_held(impatient):
        reply = http("POST", impatient.url + "/v1/uploads", png_bytes(),
                     {"Content-Type": "image/png", **basic(tenant.secret_key)})
    assert reply.status == 503 and reply.headers["Retry-After"] == "1", reply.body
    assert os.listdir(os.path.join(impatient.app.instance_path, "uploads")) == []


def test_erase_while_viewer_tokens_are_minted_never_fails(live_server, tenant):
    # Erase reads the user's events, then writes: without the write lock taken first, a token
    # minted in between made SQLite refuse the upgrade ("database is locked", 2 of 3 tries).
    stop = threading.Event()
    minted: list[int] = []

    def mint() -> None:
        while not stop.is_set():
            minted.append(post(live_server, "/v1/viewer-tokens", {"user_id": "someone"}, tenant.secret_key).status)

    minters = [threading.Thread(target=mint) for _ in range(3)]
    for thread in minters:
        thread.start()
    try:
        answers = []
        for round_ in range(5):
            user = f"erased-{round_}"
            assert post(live_server, "/v1/batch", {"batch": events(user, 2000)}, tenant.write_key).status == 200
            answers.append(post(live_server, "/v1/users/erase", {"user_id": user}, tenant.secret_key))
    finally:
        stop.set()
        for thread in minters:
            thread.join()
    assert [(a.status, a.body[:120]) for a in answers] == [(200, a.body[:120]) for a in answers]
    assert all(a.json()["erased"]["events"] == 2000 for a in answers)
    assert minted and set(minted) == {201}


def test_a_bug_is_a_500_that_does_not_promise_a_retry(live_server, tenant, query):
    query("ALTER TABLE viewer_grant RENAME TO viewer_grant_gone")  # a real failure: a table is gone
    reply = post(live_server, "/v1/viewer-tokens", {"user_id": "u1"}, tenant.secret_key)
    assert reply.status == 500
    error = reply.json()["error"]
    assert error["code"] == "internal_error" and "retry" not in error["message"].lower()
    assert "Retry-After" not in reply.headers
    assert error["request_id"] == reply.headers["X-Request-Id"]


def test_every_answer_carries_a_request_id_and_errors_repeat_it(live_server, tenant):
    good = post(live_server, "/v1/viewer-tokens", {"user_id": "u1"}, tenant.secret_key)
    assert good.status == 201 and len(good.headers["X-Request-Id"]) == 32
    refused = post(live_server, "/v1/viewer-tokens", {}, tenant.secret_key)
    assert refused.status == 422
    assert refused.json()["error"]["request_id"] == refused.headers["X-Request-Id"] != good.headers["X-Request-Id"]
    assert http("GET", live_server.url + "/sdk/recap.js").headers["X-Request-Id"]


@pytest.mark.parametrize("sent, kept", [("edge-4f2a.17", True), ("x" * 129, False), ("a b", False),
                                        ("<script>", False)])
def test_a_well_formed_request_id_from_the_front_is_kept(live_server, sent, kept):
    reply = http("GET", live_server.url + "/u/nope.png", headers={"X-Request-Id": sent})
    assert reply.status == 404
    assert (reply.headers["X-Request-Id"] == sent) is kept
    assert reply.json()["error"]["request_id"] == reply.headers["X-Request-Id"]
