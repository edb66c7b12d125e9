"""Identity is not the write key's to give away: with a public key an alias joins only anonymous
history, or an id with no history yet, to a user; merging known users needs the secret key."""
from __future__ import annotations

import json

from helpers.postgres import new_database
from helpers.server import basic, http
from helpers.share import USER, bearer, plays, post_json
from helpers.story import send, viewer_token

STORY = "/v1/stories/year-in-music"


def alias(server, key: str, previous: str, user: str, path: str = "/v1/batch", **extra):
    event = {"type": "alias", "previousId": previous, "userId": user, **extra}
    body = {"batch": [event]} if path == "/v1/batch" else event
    return post_json(server, path, body, basic(key))


def test_mallory_cannot_take_over_a_known_users_history_with_the_write_key(soundwave, live_server, query):
    send(live_server, soundwave.write_key, plays("mallory", 2))  # too few plays for a story of her own
    mallory = bearer(viewer_token(live_server, soundwave.secret_key, "mallory"))
    assert http("GET", live_server.url + STORY, headers=mallory).status == 404

    # In a batch with a good event: that one is stored, the alias is rejected by index and field.
    good = {"type": "track", "event": "Song Played", "userId": "mallory", "messageId": "m-good"}
    reply = post_json(live_server, "/v1/batch", {"batch": [
        good, {"type": "alias", "previousId": USER, "userId": "mallory", "messageId": "m-alias"}]},
        basic(soundwave.write_key))
    assert reply.status == 200, reply.body
    assert reply.json()["accepted"] == 1 and reply.json()["stored"] == 1
    [refused] = reply.json()["rejected"]
    assert (refused["index"], refused["field"], refused["code"]) == (1, "previousId", "forbidden")
    assert "secret key" in refused["message"]
    # Alone, on the batch route and the single one: 403, nothing stored.
    only = alias(live_server, soundwave.write_key, USER, "mallory")
    assert only.status == 403 and only.json()["error"]["details"]["rejected"][0]["field"] == "previousId"
    single = alias(live_server, soundwave.write_key, USER, "mallory", path="/v1/alias")
    assert single.status == 403 and "previousId" in single.json()["error"]["details"], single.body

    assert query("SELECT COUNT(*) FROM event WHERE type = 'alias'") == [(0,)]
    assert query("SELECT actor FROM identity WHERE user_id = 'mallory'") == []
    story = http("GET", live_server.url + STORY, headers=mallory)
    assert story.status == 404, story.body  # still not eligible: the victim's plays are not hers
    export = post_json(live_server, "/v1/users/export", {"user_id": "mallory"}, basic(soundwave.secret_key))
    events = json.loads(export.body)["events"]
    assert {e["user_id"] for e in events} == {"mallory"} and len(events) == 3


def test_an_alias_of_a_viewer_token_cannot_merge_either(soundwave, live_server, query):
    token = bearer(viewer_token(live_server, soundwave.secret_key, "mallory"))
    post_json(live_server, "/v1/alias", {"previousId": USER, "userId": "x"}, token)
    assert query("SELECT COUNT(*) FROM identity WHERE actor = ?", f"u:{USER}") == [(0,)]


def test_the_write_key_still_joins_anonymous_history_and_new_ids(soundwave, live_server, query):
    send(live_server, soundwave.write_key, [{"type": "track", "event": "Song Played", "anonymousId": "device-1"}])
    assert alias(live_server, soundwave.write_key, "device-1", "newbie").status == 200
    assert alias(live_server, soundwave.write_key, "old-id-without-history", "newbie", path="/v1/alias").status == 200
    assert alias(live_server, soundwave.write_key, "newbie", "newbie").status == 200  # itself: nothing to merge
    joined = {actor for (actor,) in query("SELECT actor FROM identity WHERE user_id = 'newbie'")}
    assert {"a:device-1", "a:old-id-without-history", "u:old-id-without-history"} <= joined
    assert query("SELECT COUNT(*) FROM event WHERE type = 'alias'") == [(3,)]
    assert query("SELECT COUNT(*) FROM profile WHERE user_id = 'newbie'") == [(1,)]


def test_the_secret_key_merges_known_users(soundwave, live_server, query):
    send(live_server, soundwave.write_key, plays("old-account", 3))
    reply = alias(live_server, soundwave.secret_key, "old-account", USER)
    assert reply.status == 200 and reply.json()["rejected"] == [], reply.body
    assert query("SELECT user_id FROM identity WHERE actor = 'u:old-account'") == [(USER,)]


def test_the_rule_holds_on_postgresql(postgres, tmp_path):
    """PostgreSQL writes without the SQLite path's lock file: the same decision in its transaction."""
    from helpers.server import LiveServer, make_tenant
    from widget_server import create_app
    from widget_server.store.db import database

    app = create_app({"INSTANCE_PATH": str(tmp_path / "pg"), "TESTING": True,
                      "DATABASE_URL": new_database(postgres, "alias_rule")})
    tenant = make_tenant()
    server = LiveServer(app).start()
    try:
        send(server, tenant.write_key, plays(USER, 3) + [{"type": "track", "event": "x", "anonymousId": "d-1"}])
        assert alias(server, tenant.write_key, USER, "mallory").status == 403
        assert alias(server, tenant.write_key, "d-1", "mallory").status == 200
        assert alias(server, tenant.secret_key, USER, "ben").status == 200
        with database.connection_context():
            rows = database.execute_sql("SELECT actor, user_id FROM identity WHERE actor IN (%s, %s)",
                                        (f"u:{USER}", "a:d-1")).fetchall()
            aliases = database.execute_sql("SELECT COUNT(*) FROM event WHERE type = 'alias'").fetchone()[0]
        assert sorted(rows) == [("a:d-1", "mallory"), (f"u:{USER}", "ben")] and aliases == 2
    finally:
        server.stop()
        database.close()
