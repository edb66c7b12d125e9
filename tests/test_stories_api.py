"""GET /v1/stories/<template>: the story JSON, who may read it, and the not-eligible answer."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from story_schema import story_problems

from helpers.server import basic, http, make_tenant
from helpers.story import NOW, app_template, identify, ms, send, track, viewer_token
from widget_server.engine import NotEligible, assemble_story
from widget_server.engine.template_schema import TemplateSchema
from widget_server.store.db import database

YEAR = NOW.year


def listening(user: str, plays: int, *, zone: str = "UTC", artist: str = "Björk") -> list[dict]:
    start = ms(f"{YEAR}-03-01T12:00:00")
    return [track(user, "Song Played", start + i * 3_600_000 * 25,
                  {"song_id": f"s{i % 7}", "song": f"Song {i % 7}", "artist": artist if i % 3 else "Mitski",
                   "genre": "art pop", "ms_played": 180_000, "device": "ios"}, zone=zone)
            for i in range(plays)]


@pytest.fixture
def music(app, live_server):
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave", share_base_url="https://soundwave.app")
    send(live_server, tenant.write_key,
         [identify("ana", {"name": "Ana Lima", "plan": "premium"}, ms(f"{YEAR}-01-02T00:00:00"))]
         + listening("ana", 40) + listening("ben", 30, zone="Asia/Tokyo") + listening("cy", 3))
    return tenant


def get_story(server, template: str, headers: dict, query: str = "") -> object:
    return http("GET", f"{server.url}/v1/stories/{template}{query}", None, headers)


def test_viewer_token_reads_its_own_story(music, live_server):
    token = viewer_token(live_server, music.secret_key, "ana")
    reply = get_story(live_server, "year-in-music", {"Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    story = reply.json()
    assert story_problems(story) == []
    assert story["template"] == "year-in-music" and story["source"] == "on_demand"
    assert story["frames"][-1]["kind"] == "card"
    assert story["app"] == {"name": "Soundwave", "deep_link_scheme": "soundwave"}
    assert "Ana" in story["card"]["title"]
    assert reply.headers["Cache-Control"] == "private, no-store"


def test_token_in_query_string_works(music, live_server):
    token = viewer_token(live_server, music.secret_key, "ben")
    assert get_story(live_server, "year-in-music", {}, f"?token={token}").status == 200


def test_secret_key_reads_any_user_with_user_id(music, live_server):
    reply = get_story(live_server, "year-in-music", basic(music.secret_key), "?user_id=ben")
    assert reply.status == 200 and reply.json()["template"] == "year-in-music"


def test_viewer_token_cannot_read_another_users_story(music, live_server):
    token = viewer_token(live_server, music.secret_key, "ana")
    reply = get_story(live_server, "year-in-music", {"Authorization": f"Bearer {token}"}, "?user_id=ben")
    assert reply.status == 403
    assert reply.json()["error"]["code"] == "forbidden"


def test_tokens_of_another_app_do_not_reach_this_apps_users(music, live_server):
    other = make_tenant("Other")
    token = viewer_token(live_server, other.secret_key, "ana")
    reply = get_story(live_server, "year-in-music", {"Authorization": f"Bearer {token}"})
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_eligible"


@pytest.mark.parametrize("headers, query, status", [
    ({}, "", 401),
    ("write", "?user_id=ana", 401),
    ("secret", "", 422),
    ({"Authorization": "Bearer not.a.token"}, "", 401),
    ("secret", "?user_id=" + "x" * 201, 422),
])
def test_bad_credentials_get_clear_errors(music, live_server, headers, query, status):
    if headers == "write":
        headers = basic(music.write_key)
    elif headers == "secret":
        headers = basic(music.secret_key)
    reply = get_story(live_server, "year-in-music", headers, query)
    assert reply.status == status
    assert set(reply.json()["error"]) == {"code", "message", "details", "request_id"}


def test_not_eligible_names_the_rule_and_what_is_missing(music, live_server):
    reply = get_story(live_server, "year-in-music", basic(music.secret_key), "?user_id=cy")
    assert reply.status == 404
    error = reply.json()["error"]
    assert error["code"] == "not_eligible"
    assert error["details"]["rule"] == "eligibility[0]"
    assert error["details"]["metric"] == "plays"
    assert error["details"]["actual"] == 3 and error["details"]["missing"] == 7
    assert "10 songs" in error["message"]
    assert error["message"].endswith(f"This story covers 1 January – 15 November {YEAR}.")


def test_unknown_template_is_not_found(music, live_server):
    reply = get_story(live_server, "no-such-story", basic(music.secret_key), "?user_id=ana")
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("template", [
    "..%2F..%2F..%2Fetc%2Fpasswd", "..%2Fyear-in-music", "..", "%2E%2E", "year-in-music%0A", "year-in-music.toml",
    "Year-In-Music", "year_in_music", "-year-in-music", "a" * 65, "no-such-template"])
@pytest.mark.parametrize("auth", ["secret", "viewer"])
def test_a_template_id_that_is_not_a_known_template_is_not_found(music, live_server, template, auth):
    if auth == "secret":
        reply = get_story(live_server, template, basic(music.secret_key), "?user_id=ana")
    else:
        token = viewer_token(live_server, music.secret_key, "ana")
        reply = get_story(live_server, template, {"Authorization": f"Bearer {token}"})
    assert reply.status == 404, reply.body
    error = reply.json()["error"]
    assert error["code"] == "not_found" and error["message"] and isinstance(error["details"], dict)
    assert "root:" not in reply.body.decode()


def test_python_entry_point_matches_the_contract(music, app):
    with database.connection_context():
        story = assemble_story(music.app_id, "year-in-music", "ana", now=NOW)
        assert story["period"] == {"label": str(YEAR), "start": f"{YEAR}-01-01", "end": f"{YEAR}-11-15"}
        assert story["generated_at"] == "2026-11-22T10:00:00Z"
        with pytest.raises(NotEligible) as info:
            assemble_story(music.app_id, "year-in-music", "nobody", now=NOW)
        assert info.value.status == 404 and info.value.code == "not_eligible"


@pytest.mark.parametrize("template", ["year-in-music", "year_in_music", "year-in-music\n", "-year-in-music",
                                      "Year-In-Music", "a" * 65])
def test_every_route_takes_the_template_ids_the_schema_takes(music, live_server, template):
    """One rule for a template id: an id the schema refuses can name no template, so every route
    refuses it at once (the embed page once served one, then its story was a 404)."""
    valid = "id" not in TemplateSchema().validate({"id": template}, partial=True)
    assert valid == (template == "year-in-music")
    segment = quote(template, safe="")
    token = viewer_token(live_server, music.secret_key, "ana")
    embed = http("GET", f"{live_server.url}/embed/{segment}?token={token}")
    story = get_story(live_server, segment, basic(music.secret_key), "?user_id=ana")
    stats = http("GET", f"{live_server.url}/v1/stats/stories/{segment}", None, basic(music.secret_key))
    shared = http("POST", f"{live_server.url}/v1/shares", json.dumps({"template": template}).encode(),
                  {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    if valid:
        assert (embed.status, story.status, stats.status, shared.status) == (200, 200, 200, 201), shared.body
    else:
        assert (embed.status, story.status, stats.status, shared.status) == (404, 404, 404, 422)
        assert shared.json()["error"]["details"]["template"] == [
            "A template id: 1-64 of a-z, 0-9 and '-', not starting with '-'."]



def test_not_eligible_says_which_period_counts(app, live_server):
    """12 plays on 2 December: the year's story covers 1 January to 15 November, and the answer
    says so (it said only "Play at least 10 songs this year", and they had)."""
    tenant = make_tenant("Late Starter")
    send(live_server, tenant.write_key, [
        track("late", "Song Played", ms(f"{YEAR}-12-02T00:10:00") + i * 60_000,
              {"song": f"Song {i}", "artist": "Mitski", "ms_played": 180_000}) for i in range(12)])
    with database.connection_context(), pytest.raises(NotEligible) as info:
        assemble_story(tenant.app_id, "year-in-music", "late", now=datetime(YEAR, 12, 3, 9, tzinfo=UTC))
    assert info.value.message == ("Play at least 10 songs this year to unlock your Year in Music. "
                                  f"This story covers 1 January – 15 November {YEAR}.")
    assert info.value.details["actual"] == 0
    assert info.value.details["period"] == {"label": str(YEAR), "start": f"{YEAR}-01-01", "end": f"{YEAR}-11-15"}


def test_an_invalid_template_tells_viewers_only_that_the_story_is_unavailable(music, app, live_server, caplog):
    path = app_template(app.instance_path, music.app_id, "broken",
                        'id = "broken"\ntitle = "x"\n[period]\nkind = "decade"\n')
    token = viewer_token(live_server, music.secret_key, "ana")
    viewer = {"Authorization": f"Bearer {token}"}
    with caplog.at_level(logging.ERROR, logger="widget_server.engine.templates"):
        replies = [get_story(live_server, "broken", viewer),
                   http("POST", f"{live_server.url}/v1/shares", json.dumps({"template": "broken"}).encode(),
                        {"Content-Type": "application/json", **viewer}),
                   get_story(live_server, "broken", viewer)]
        secret = get_story(live_server, "broken", basic(music.secret_key), "?user_id=ana")
    for reply in replies:
        assert reply.status == 503, reply.body
        error = reply.json()["error"]
        del error["request_id"]
        assert error == {"code": "story_unavailable", "message": "This story is unavailable.",
                         "details": {"template": "broken"}}
    # The operator learns where and why: the secret key's answer, and the log (once, not per request).
    assert secret.status == 422 and secret.json()["error"]["code"] == "template_invalid"
    assert secret.json()["error"]["details"]["file"] == str(path)
    assert "period.kind" in [e["path"] for e in secret.json()["error"]["details"]["errors"]]
    logged = [r.getMessage() for r in caplog.records if "broken.toml" in r.getMessage()]
    assert len(logged) == 1 and "period.kind: Must be one of" in logged[0]


def test_only_the_secret_key_skips_the_built_story(music, app, live_server):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave"])
    assert result.exit_code == 0 and "built 2 stories" in result.output, result.output
    token = viewer_token(live_server, music.secret_key, "ana")
    for query in ("", "?fresh=1", "?fresh=true"):
        reply = get_story(live_server, "year-in-music", {"Authorization": f"Bearer {token}"}, query)
        assert reply.status == 200 and reply.json()["source"] == "precomputed", query
    fresh = get_story(live_server, "year-in-music", basic(music.secret_key), "?user_id=ana&fresh=1")
    assert fresh.status == 200 and fresh.json()["source"] == "on_demand"
