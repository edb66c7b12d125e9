"""A user's data, exported (everything that counts for them, as sent) or erased (nothing
personal of theirs is left: events passed or not, the anonymous history joined to them,
profile, shares, pictures, tokens; other users untouched; an old batch sent again cannot bring
the events back)."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from helpers.event_keys import catch_up, expected, found
from helpers.server import basic, http
from helpers.share import NAME, USER, YEAR, bearer, plays, post_json, share
from helpers.story import identify, ms, send, track, viewer_token

DEVICE = "device-7f3a"


def erase(server, headers: dict, body: object):
    return post_json(server, "/v1/users/erase", body, headers)


@pytest.fixture
def history(soundwave, live_server, runner):
    """Ana listened on a device before she signed in; part of her history is passed, part not."""
    before = [track(None, "Song Played", ms(f"{YEAR}-01-01T09:00:00") + i * 60_000,
                    {"song": "Song 1", "artist": "Mitski"}, anon=DEVICE) | {"messageId": f"before-{i}"}
              for i in range(5)]
    send(live_server, soundwave.write_key, before + [identify(USER, {"name": NAME}, ms(f"{YEAR}-01-01T10:00:00"),
                                                              anon=DEVICE)])
    catch_up()
    send(live_server, soundwave.write_key, plays(USER, 3, start_day=20))  # still in the tail
    assert runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave"]).exit_code == 0
    token = viewer_token(live_server, soundwave.secret_key, USER)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 40, 90)).save(buffer, "PNG")
    picture = http("POST", live_server.url + "/v1/uploads", buffer.getvalue(),
                   {"Content-Type": "image/png", **bearer(token)}).json()
    shared = share(live_server, soundwave, caption="my year", upload_id=picture["id"])
    listeners = {"when": "plays >= 1", "metrics": {"plays": {"kind": "count", "event": "Song Played"}}}
    assert http("PUT", live_server.url + "/v1/audiences/listeners", json.dumps(listeners).encode(),
                {"Content-Type": "application/json", **basic(soundwave.secret_key)}).status == 201
    assert runner.invoke(args=["audiences", "refresh", "--app", "Soundwave"]).exit_code == 0
    return {"tenant": soundwave, "before": before, "token": token, "picture": picture, "share": shared}


def test_erasing_a_user_leaves_nothing_of_theirs(live_server, history, query):
    tenant = history["tenant"]
    ana_events = query("SELECT COUNT(*) FROM event WHERE actor IN (?, ?)", f"u:{USER}", f"a:{DEVICE}")[0][0]
    ben_before = query("SELECT id, properties FROM event WHERE actor = 'u:ben' ORDER BY id")

    reply = erase(live_server, basic(tenant.secret_key), {"user_id": USER})
    assert reply.status == 200, reply.body
    assert reply.json()["erased"] == {"events": ana_events, "profiles": 1, "identities": 1, "stories": 1,
                                      "shares": 1, "uploads": 1, "viewer_grants": 2, "churn_scores": 0,
                                      "audience_memberships": 1}

    # Events: tombstones only, none with an id, a name, a property or a context of hers.
    assert query("SELECT COUNT(*) FROM event WHERE actor = 'erased'") == [(ana_events,)]
    leftovers = query("SELECT COUNT(*) FROM event WHERE user_id = ? OR anonymous_id = ? OR properties LIKE ? "
                      "OR context LIKE ? OR actor IN (?, ?)", USER, DEVICE, f"%{NAME}%", f"%{DEVICE}%",
                      f"u:{USER}", f"a:{DEVICE}")
    assert leftovers == [(0,)]
    assert query("SELECT COUNT(*) FROM keys.event_by_actor WHERE actor IN (?, ?)", f"u:{USER}", f"a:{DEVICE}") \
        == [(0,)]
    assert query("SELECT COUNT(*) FROM keys.event_by_name n JOIN event e ON e.id = n.event_id "
                 "WHERE e.actor = 'erased'") == [(0,)]
    for table in ("profile", "identity", "precomputed_story", "share", "upload", "viewer_grant"):
        assert query(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", USER) == [(0,)], table

    # What she could reach is gone; Ben's story and events are as they were.
    assert http("GET", history["share"]["url"]).status in (404, 410)
    assert http("GET", history["picture"]["url"]).status == 404
    story = http("GET", f"{live_server.url}/v1/stories/year-in-music", None, bearer(history["token"]))
    assert story.status == 401
    for user, status in ((USER, 404), ("ben", 200)):
        reply = http("GET", f"{live_server.url}/v1/stories/year-in-music?user_id={user}&fresh=1", None,
                     basic(tenant.secret_key))
        assert reply.status == status, (user, reply.body)
    assert reply.json()  # Ben's
    assert "not_eligible" in str(http("GET", f"{live_server.url}/v1/stories/year-in-music?user_id={USER}", None,
                                      basic(tenant.secret_key)).body)  # no precomputed story left either
    assert query("SELECT id, properties FROM event WHERE actor = 'u:ben' ORDER BY id") == ben_before
    catch_up()  # the tombstones in the tail are passed like any event
    assert found(query, tenant.app_id, [f"u:{USER}", f"a:{DEVICE}"]) == []
    assert found(query, tenant.app_id, ["u:ben"]) == expected(query, tenant.app_id, ["u:ben"])


def test_erasing_a_user_deletes_the_app_servers_pictures_of_them(live_server, soundwave, query):
    def app_upload(color: tuple[int, int, int]) -> dict:
        buffer = io.BytesIO()
        Image.new("RGB", (40, 40), color).save(buffer, "PNG")
        return http("POST", live_server.url + "/v1/uploads", buffer.getvalue(),
                    {"Content-Type": "image/png", **basic(soundwave.secret_key)}).json()

    photo, on_card, banner, family = (app_upload((200, 40, 90)), app_upload((40, 200, 90)),
                                      app_upload((40, 90, 200)), app_upload((90, 90, 90)))
    # The documented flow: the app uploads the user's photo with its secret key, names it in traits.
    send(live_server, soundwave.write_key, [identify(USER, {"photo_url": photo["url"]}, ms(f"{YEAR}-02-01T00:00:00")),
                                            identify("cy", {"photo_url": family["url"]}, ms(f"{YEAR}-02-01T00:00:00"))])
    share(live_server, soundwave, upload_id=on_card["id"])
    share(live_server, soundwave, upload_id=banner["id"])
    share(live_server, soundwave, upload_id=family["id"])  # Cy's photo, on our user's card
    share(live_server, soundwave, "ben", upload_id=banner["id"])  # a picture Ben's card shows too

    exported = post_json(live_server, "/v1/users/export", {"user_id": USER}, basic(soundwave.secret_key)).json()
    assert sorted(u["id"] for u in exported["uploads"]) == sorted([photo["id"], on_card["id"]])  # what erasure takes
    reply = erase(live_server, basic(soundwave.secret_key), {"user_id": USER})
    assert reply.status == 200, reply.body
    assert reply.json()["erased"]["uploads"] == 2
    assert [http("GET", p["url"]).status for p in (photo, on_card, banner, family)] == [404, 404, 200, 200]
    assert sorted(query("SELECT id FROM upload")) == sorted([(banner["id"],), (family["id"],)])


def test_export_holds_everything_that_counts_for_the_user(live_server, history, query):
    tenant = history["tenant"]
    reply = post_json(live_server, "/v1/users/export", {"user_id": USER}, basic(tenant.secret_key))
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "private, no-store"
    data = json.loads(reply.body)
    assert (data["user_id"], data["app"]["name"], data["profile"]["traits"]["name"]) == (USER, "Soundwave", NAME)
    assert [i["actor"] for i in data["identities"]] == [f"a:{DEVICE}"]
    ana = query("SELECT message_id FROM event WHERE actor IN (?, ?) ORDER BY timestamp, id", f"u:{USER}", f"a:{DEVICE}")
    assert [e["message_id"] for e in data["events"]] == [m for (m,) in ana]  # her own and her device's, in time order
    first = data["events"][0]
    assert (first["anonymous_id"], first["properties"], first["timestamp"]) == (
        DEVICE, {"song": "Song 1", "artist": "Mitski"}, f"{YEAR}-01-01T09:00:00.000Z")
    assert first["context"] == {"timezone": "UTC"}
    assert [s["id"] for s in data["shares"]] == [history["share"]["id"]] and data["shares"][0]["card"]
    assert [u["id"] for u in data["uploads"]] == [history["picture"]["id"]]
    assert http("GET", data["uploads"][0]["url"]).status == 200
    assert not any("ben" in json.dumps(e) for e in data["events"])
    assert [m["audience"] for m in data["audiences"]] == ["listeners"]

    erase(live_server, basic(tenant.secret_key), {"user_id": USER})
    after = json.loads(post_json(live_server, "/v1/users/export", {"user_id": USER}, basic(tenant.secret_key)).body)
    assert (after["profile"], after["identities"], after["events"], after["shares"], after["uploads"],
            after["audiences"]) == (None, [], [], [], [], [])


def test_the_command_line_exports_the_same_document(live_server, history, runner, tmp_path):
    tenant = history["tenant"]
    over_http = json.loads(post_json(live_server, "/v1/users/export", {"user_id": USER},
                                     basic(tenant.secret_key)).body)
    out = tmp_path / "ana.json"
    result = runner.invoke(args=["users", "export", USER, "--app", "Soundwave", "--output", str(out)])
    assert result.exit_code == 0, result.output
    from_cli = json.loads(out.read_text())
    for document in (over_http, from_cli):
        document.pop("exported_at")
        for upload in document["uploads"]:
            upload.pop("url")  # the request's host, or RECAP_PUBLIC_BASE_URL
    assert from_cli == over_http


def test_an_old_batch_sent_again_does_not_bring_the_events_back(live_server, history, query):
    tenant = history["tenant"]
    erase(live_server, basic(tenant.secret_key), {"user_id": USER})
    reply = post_json(live_server, "/v1/batch", {"batch": history["before"]}, basic(tenant.write_key)).json()
    assert (reply["stored"], reply["duplicates"]) == (0, 5)
    assert query("SELECT COUNT(*) FROM event WHERE anonymous_id = ?", DEVICE) == [(0,)]


@pytest.mark.parametrize("headers, body, status, field", [
    ("write", {"user_id": USER}, 401, None), ("none", {"user_id": USER}, 401, None),
    ("secret", {}, 422, "user_id"), ("secret", {"user_id": ""}, 422, "user_id"),
    ("secret", {"user_id": "x" * 201}, 422, "user_id"), ("secret", [USER], 400, None)])
@pytest.mark.parametrize("route", ["erase", "export"])
def test_only_the_secret_key_erases_or_exports_and_bad_requests_name_the_field(
        live_server, soundwave, query, route, headers, body, status, field):
    keys = {"write": basic(soundwave.write_key), "none": {}, "secret": basic(soundwave.secret_key)}
    reply = post_json(live_server, f"/v1/users/{route}", body, keys[headers])
    assert reply.status == status, reply.body
    if field:
        assert field in reply.json()["error"]["details"]
    assert query("SELECT COUNT(*) FROM event WHERE user_id = ?", USER)[0][0] > 0


def test_the_command_line_erases_too(soundwave, runner, query):
    result = runner.invoke(args=["users", "erase", "ben", "--app", "Soundwave", "--yes"])
    assert result.exit_code == 0, result.output
    assert "events: 30" in result.output
    assert query("SELECT COUNT(*) FROM event WHERE user_id = 'ben'") == [(0,)]
    unknown = runner.invoke(args=["users", "erase", "ben", "--app", "Nope", "--yes"])
    assert unknown.exit_code != 0 and "No app named 'Nope'" in unknown.output
