"""Ingest's bulk writes on PostgreSQL (store/postgres_writes.py): what COPY must escape, and
concurrent batches that share users, under gunicorn as README.md runs it.

Server-side senders flush a few dozen users' recent sessions at once, so two batches in flight
often touch the same profiles and identities. Each batch upserted them in the order of its own
events: two transactions locking the same rows in opposite orders deadlocked, and PostgreSQL
broke the tie after its 1 s deadlock timeout by failing one of them (14 of 200 batches when it
was measured). Now every acknowledged event is stored exactly once, no batch fails, and every
profile spans its user's events.
"""
from __future__ import annotations

import json
import random
import threading
import uuid
from datetime import UTC, datetime

import psycopg2

from demo_app.serving import free_port
from helpers.ingest_load import Sender
from helpers.postgres import new_database
from helpers.production import Gunicorn
from helpers.server import LiveServer, basic, http, make_tenant
from widget_server import create_app
from widget_server.store.db import database

USERS, PER_BATCH_USERS, EVENTS, SENDERS, BATCHES = 40, 25, 200, 4, 30
DAY_MS = 86_400_000


def shared_users_batch(rng: random.Random) -> list[dict]:
    """Events of 25 of the 40 users, shuffled: some track, some identify with a trait."""
    users = rng.sample(range(USERS), PER_BATCH_USERS)
    events = []
    for _ in range(EVENTS):
        user = rng.choice(users)
        ts = 1_767_225_600_000 + rng.randrange(300 * DAY_MS)
        kind = "identify" if rng.random() < 0.1 else "track"
        event = {"type": kind, "userId": f"user-{user}", "anonymousId": f"device-{user}-{rng.randrange(3)}",
                 "messageId": uuid.uuid4().hex, "timestamp": datetime.fromtimestamp(ts / 1000, UTC).isoformat()}
        if kind == "identify":
            event["traits"] = {"plan": rng.choice(["free", "plus"])}
        else:
            event.update(event="Song Played", properties={"ms": rng.randrange(1, 300_000)})
        events.append(event)
    return events


# What COPY's text format gives a meaning to (tab, newline, carriage return, backslash, \\N), and
# the rest of the world's text, in every column that takes text.
AWKWARD = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "\\\\N\\t",
           "émoji 🎧 ساعة 時間", "quote \" and ' both"]


def post_batches(app, write_key: str, *bodies: dict) -> list:
    """Each body POSTed to /v1/batch of ``app`` served on loopback, which is then stopped."""
    server = LiveServer(app).start()
    try:
        return [http("POST", server.url + "/v1/batch", json.dumps(body).encode(),
                     {"Content-Type": "application/json", **basic(write_key)}) for body in bodies]
    finally:
        server.stop()
        database.close()


def test_text_that_copy_gives_a_meaning_is_stored_as_sent(postgres, tmp_path):
    url = new_database(postgres, "awkward")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url})
    tenant = make_tenant()
    events = [{"type": "track", "event": text, "userId": f"user {text}", "anonymousId": f"device {text}",
               "messageId": f"m-{i} {text}", "properties": {"text": text, text: [text, {"nested": text}]},
               "context": {"page": {"title": text}}} for i, text in enumerate(AWKWARD)]
    events.append({"type": "identify", "userId": "user tab\there", "traits": {"name": AWKWARD[0]},
                   "messageId": "identify tab"})
    reply, = post_batches(app, tenant.write_key, {"batch": events})
    assert reply.status == 200, reply.body
    assert reply.json()["stored"] == len(events)
    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute("SELECT message_id, name, user_id, anonymous_id, actor, properties, context FROM event")
        stored = {row[0]: row[1:] for row in cur.fetchall()}
        cur.execute("SELECT actor, user_id FROM identity")
        identities = dict(cur.fetchall())
        cur.execute("SELECT traits FROM profile WHERE user_id = 'user tab\there'")
        traits = cur.fetchone()[0]
    finally:
        con.close()
    for i, text in enumerate(AWKWARD):
        name, user, device, actor, properties, context = stored[f"m-{i} {text}"]
        assert (name, user, device, actor) == (text, f"user {text}", f"device {text}", f"u:user {text}")
        assert properties == {"text": text, text: [text, {"nested": text}]}  # jsonb, which psycopg2 decodes
        assert context["page"] == {"title": text}
        assert identities[f"a:device {text}"] == f"user {text}"
    assert json.loads(traits) == {"name": AWKWARD[0]}


def test_batches_sharing_users_are_all_stored_once_and_none_fails(postgres, tmp_path):
    url = new_database(postgres, "contention")
    instance = tmp_path / "instance"
    create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": url})
    tenant = make_tenant()
    database.close()
    server = Gunicorn(instance, free_port(), env={"RECAP_DATABASE_URL": url}).start()
    sent: list[dict] = []
    answers: list[tuple[int, bytes]] = []
    lock = threading.Lock()
    start = threading.Barrier(SENDERS)

    def send(seed: int) -> None:
        rng = random.Random(seed)
        sender = Sender(f"http://127.0.0.1:{server.bind}", tenant, timeout=30)
        start.wait()
        try:
            for _ in range(BATCHES):
                events = shared_users_batch(rng)
                answer = sender.post(events)
                with lock:
                    answers.append((answer.status, answer.body[:300]))
                    if answer.status == 200:
                        sent.extend(events)
        finally:
            sender.close()

    try:
        threads = [threading.Thread(target=send, args=(seed,)) for seed in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        server.stop()

    assert [a for a in answers if a[0] != 200] == []  # no deadlock surfaced, not even as a 503
    assert len(answers) == SENDERS * BATCHES
    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute("SELECT message_id, count(*) FROM event GROUP BY message_id")
        stored = dict(cur.fetchall())
        cur.execute("SELECT user_id, first_seen, last_seen FROM profile")
        profiles = {user: (first, last) for user, first, last in cur.fetchall()}
    finally:
        con.close()
    assert stored == {e["messageId"]: 1 for e in sent}
    spans: dict[str, tuple[int, int]] = {}
    for e in sent:
        ts = round(datetime.fromisoformat(e["timestamp"]).timestamp() * 1000)
        first, last = spans.get(e["userId"], (ts, ts))
        spans[e["userId"]] = (min(first, ts), max(last, ts))
    assert profiles == spans


def test_a_nul_character_is_a_clear_422_and_the_rest_of_the_batch_is_stored(postgres, tmp_path):
    # PostgreSQL keeps no NUL, in text or jsonb: such an event failed its whole batch with a 500.
    url = new_database(postgres, "nul")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url})
    tenant = make_tenant()
    good = {"type": "track", "event": "Song Played", "userId": "ada", "messageId": "good"}
    events = [good,
              {**good, "messageId": "p", "properties": {"title": "a\u0000b"}},
              {**good, "messageId": "k", "properties": {"deep": [{"key\u0000": 1}]}},
              {**good, "messageId": "c", "context": {"page": {"title": "\u0000"}}},
              {**good, "messageId": "t", "type": "identify", "traits": {"name": "\u0000"}},
              {**good, "messageId": "u", "userId": "ada\u0000"},
              {**good, "messageId": "e", "event": "Song\u0000Played"},
              {**good, "messageId": "m\u0000"}]
    reply, whole = post_batches(app, tenant.write_key, {"batch": events},
                                {"batch": [{**good, "messageId": "g2"}], "context": {"app": {"name": "x\u0000"}}})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["stored"] == 1
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "properties.title"), (2, "properties.deep[0]"), (3, "context.page.title"), (4, "traits.name"),
        (5, "userId"), (6, "event"), (7, "messageId")]
    assert all("NUL" in r["message"] for r in body["rejected"])
    assert whole.status == 422 and whole.json()["error"]["details"] == {"context.app.name": [
        "Holds the NUL character (\\u0000), which the store cannot keep."]}


def test_an_alias_beside_its_users_own_events_is_one_profile_upsert(postgres, tmp_path):
    # A public key's alias is decided under the write lock and touches its user's profile; with
    # the user's own events in the same batch that is a second row for one user, which one
    # multi-row upsert may not hold ("cannot affect row a second time").
    url = new_database(postgres, "alias_touch")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url})
    tenant = make_tenant()
    at = "2026-03-0{}T12:00:00Z".format
    events = [{"type": "identify", "userId": "ada", "traits": {"plan": "plus"}, "timestamp": at(2),
               "context": {"timezone": "Europe/Berlin", "locale": "de-DE"}, "messageId": "i"},
              {"type": "alias", "previousId": "device-1", "userId": "ada", "timestamp": at(1),
               "context": {"timezone": "Asia/Tokyo", "locale": "ja-JP"}, "messageId": "a"},
              {"type": "track", "event": "Song Played", "userId": "ada", "timestamp": at(3), "messageId": "t"}]
    reply, = post_batches(app, tenant.write_key, {"batch": events})
    assert reply.status == 200, reply.body
    assert reply.json()["stored"] == 3
    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute("SELECT traits, timezone, first_seen, last_seen, locale FROM profile WHERE user_id = 'ada'")
        traits, zone, first, last, locale = cur.fetchone()
        cur.execute("SELECT actor FROM identity WHERE user_id = 'ada'")
        joined = {actor for (actor,) in cur.fetchall()}
    finally:
        con.close()
    day = 86_400_000
    assert (json.loads(traits), zone, locale) == ({"plan": "plus"}, "Asia/Tokyo", "ja-JP")  # (the touch's, as its zone)
    assert (first, last - first) == (round(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp() * 1000), 2 * day)
    assert "a:device-1" in joined
