"""Audiences (DESIGN.md "Audiences"): definitions put and versioned, 422 naming each key path;
members computed for every user and stored per refresh, equal to a computation of this test's
own; paged with a signed cursor; admitting exactly their members to a story and to a trigger;
likely_to_churn built in from the churn scores."""
from __future__ import annotations

import json

import pytest

from helpers.audiences import LAPSED, USERS, day_at_noon, get, listening_history, put, story_template, walk
from helpers.server import basic, http, make_tenant
from helpers.story import send, track
from helpers.triggers import cli
from helpers.video import consuming
from helpers.waiting import wait_until
from widget_server.jobs.queue import enqueue
from widget_server.store.db import database
from widget_server.store.models import ChurnModel, ChurnScore


@pytest.fixture
def music(app, live_server):
    tenant = make_tenant("Soundwave")
    events, lapsed = listening_history()
    send(live_server, tenant.write_key, events)
    tenant.lapsed = lapsed
    return tenant


def test_a_refresh_stores_exactly_the_members_counted_independently(music, app, live_server):
    assert 5 < len(music.lapsed) < USERS - 5  # both sides of each edge are present
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    result = cli(app, "audiences", "refresh", "--app", "Soundwave")
    assert result.exit_code == 0, result.output
    assert result.output == f"lapsed\t{len(music.lapsed)} members\n"

    walked = walk(live_server, music.secret_key, "lapsed", 7)
    assert walked == sorted(music.lapsed)  # each member once, in order
    listed = cli(app, "audiences", "members", "lapsed", "--app", "Soundwave").output.split()
    assert listed == sorted(music.lapsed)

    assert cli(app, "audiences", "refresh", "--app", "Soundwave", "--id", "lapsed").exit_code == 0
    shown = get(live_server, music.secret_key, "/v1/audiences/lapsed").json()
    assert [(c["members"], c["users"], c["version"]) for c in shown["counts"]] == [(len(music.lapsed), USERS, 1)] * 2
    assert shown["source"] == LAPSED and [v["version"] for v in shown["versions"]] == [1]


def test_a_definition_put_again_is_a_new_version_and_listed(music, live_server):
    assert put(live_server, music.secret_key, "lapsed", LAPSED).json() == {"id": "lapsed", "version": 1}
    as_json = {"when": "plays >= 200", "metrics": {"plays": {"kind": "count", "event": "Song Played"}}}
    second = put(live_server, music.secret_key, "lapsed", as_json, "application/json")
    assert (second.status, second.json()["version"]) == (201, 2)
    listed = get(live_server, music.secret_key, "/v1/audiences").json()["audiences"]
    assert [(a["id"], a["latest"], a["builtin"]) for a in listed] == [("lapsed", 2, False)]
    other = make_tenant("Other")
    assert get(live_server, other.secret_key, "/v1/audiences").json() == {"audiences": []}
    assert get(live_server, other.secret_key, "/v1/audiences/lapsed").status == 404
    assert get(live_server, music.write_key, "/v1/audiences").status == 401
    assert put(live_server, music.write_key, "lapsed", LAPSED).status == 401


@pytest.mark.parametrize("refreshed", [False, True])
def test_an_audience_in_eligibility_admits_exactly_its_members(music, app, live_server, refreshed):
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    if refreshed:
        assert cli(app, "audiences", "refresh", "--app", "Soundwave").exit_code == 0
    template = story_template()
    saved = http("PUT", f"{live_server.url}/v1/templates/year-in-music?publish=true", template.encode(),
                 {"Content-Type": "application/toml", **basic(music.secret_key)})
    assert saved.status in (200, 201), saved.body
    for u in range(USERS):
        user = f"user-{u:03d}"
        reply = get(live_server, music.secret_key, f"/v1/stories/year-in-music?user_id={user}")
        if user in music.lapsed:
            assert reply.status == 200, (user, reply.body)
        else:
            assert reply.status == 404, (user, reply.body)
            error = reply.json()["error"]
            assert (error["code"], error["details"]["audience"]) == ("not_eligible", "lapsed")


def test_a_trigger_naming_an_audience_looks_only_at_its_members(music, app, live_server):
    app.config.update(WEBHOOK_ALLOW_LOCAL=True)
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    assert cli(app, "keys", "rotate", str(music.app_id), "--kind", "webhook").exit_code == 0
    trigger = {"on": {"event": "Release Published"}, "audience_ref": "lapsed", "message": {"title": "New music"},
               "webhook": "https://hooks.example.app/recap"}
    reply = http("PUT", f"{live_server.url}/v1/triggers/comeback", json.dumps(trigger).encode(),
                 {"Content-Type": "application/json", **basic(music.secret_key)})
    assert reply.status == 201, reply.body
    result = cli(app, "triggers", "dry-run", "comeback", "--app", "Soundwave")
    assert result.output.startswith(f"would notify {len(music.lapsed)} of {USERS} users"), result.output


@pytest.mark.parametrize("body, path, reason", [
    ({}, "when", "Missing data"),
    ({"when": "plays >="}, "when", "Template syntax error"),
    ({"when": "plyas > 1", "metrics": {"plays": {"kind": "count"}}}, "when", "'plyas' is not a metric"),
    ({"when": "1", "metrics": {"top": {"kind": "top"}}}, "metrics.top.property", "needs 'property'"),
    ({"when": "1", "metrics": {"p": {"kind": "count"}, "r": {"kind": "percentile", "of": "p"}}}, "metrics.r.kind",
     "cannot use a percentile"),
    ({"when": "1", "period": {"kind": "decade"}}, "period.kind", "Must be one of"),
    ({"when": "1", "colour": "red"}, "colour", "Unknown field"),
    ({"when": "1", "id": "other"}, "id", "must be the audience's"),
])
def test_a_bad_definition_is_refused_naming_its_key_path(music, live_server, body, path, reason):
    reply = put(live_server, music.secret_key, "lapsed", body, "application/json")
    assert reply.status == 422, reply.body
    error = reply.json()["error"]
    assert error["code"] == "audience_invalid"
    entries = {e["path"]: e["reason"] for e in error["details"]["errors"]}
    assert reason in entries.get(path, ""), entries
    assert get(live_server, music.secret_key, "/v1/audiences/lapsed").status == 404  # nothing saved


def test_a_bad_cursor_or_limit_is_a_clear_422(music, app, live_server):
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    assert put(live_server, music.secret_key, "other", LAPSED).status == 201
    assert cli(app, "audiences", "refresh", "--app", "Soundwave").exit_code == 0
    first = get(live_server, music.secret_key, "/v1/audiences/lapsed/members?limit=1").json()
    assert first["next"] and first["computed_at"]
    for query, field in [("?cursor=nonsense", "cursor"), (f"?cursor={first['next']}x", "cursor"),
                         ("?cursor=" + "a" * 2000, "cursor"), ("?limit=0", "limit"), ("?limit=5000", "limit"),
                         ("?limit=ten", "limit")]:
        reply = get(live_server, music.secret_key, f"/v1/audiences/lapsed/members{query}")
        assert reply.status == 422 and field in reply.json()["error"]["details"], (query, reply.body)
    # Another audience's cursor, or another app's, does not continue this one.
    assert get(live_server, music.secret_key, f"/v1/audiences/other/members?cursor={first['next']}").status == 422
    assert get(live_server, music.secret_key, "/v1/audiences/nosuch/members").status == 404
    assert get(live_server, music.secret_key, "/v1/audiences/..%2Fx/members").status == 404


def test_likely_to_churn_is_built_in_from_the_scores_and_cannot_be_put(music, app, live_server):
    assert get(live_server, music.secret_key, "/v1/audiences").json() == {"audiences": []}  # no model yet
    with app.app_context(), database.connection_context():
        model = ChurnModel.create(app_id=music.app_id, horizon_days=28, report={}, model=b"")
        for u in range(USERS):
            ChurnScore.create(app_id=music.app_id, user_id=f"user-{u:03d}", score=u / USERS, model_id=model.id)
    churners = {f"user-{u:03d}" for u in range(USERS) if u / USERS >= 0.5}
    listed = get(live_server, music.secret_key, "/v1/audiences").json()["audiences"]
    assert [(a["id"], a["builtin"]) for a in listed] == [("likely_to_churn", True)]
    refused = put(live_server, music.secret_key, "likely_to_churn", LAPSED)
    assert (refused.status, refused.json()["error"]["code"]) == (409, "builtin_audience")
    refreshed = cli(app, "audiences", "refresh", "--app", "Soundwave").output
    assert refreshed == f"likely_to_churn\t{len(churners)} members\n"
    assert walk(live_server, music.secret_key, "likely_to_churn", 10) == sorted(churners)
    shown = get(live_server, music.secret_key, "/v1/audiences/likely_to_churn").json()
    assert shown["builtin"] and shown["threshold"] == 0.5 and shown["counts"][-1]["members"] == len(churners)


def test_the_hourly_job_refreshes_every_apps_audiences_on_the_queue(music, app, live_server):
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    with consuming(app), app.app_context():
        enqueue("refresh_audiences")  # what the scheduler does at :23 every hour
        wait_until(lambda: get(live_server, music.secret_key, "/v1/audiences/lapsed").json()["counts"], 60,
                   "the app's refresh")
    assert walk(live_server, music.secret_key, "lapsed", 500) == sorted(music.lapsed)


def test_members_stored_before_a_new_version_are_not_used_for_eligibility(music, app, live_server):
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    assert cli(app, "audiences", "refresh", "--app", "Soundwave").exit_code == 0
    nobody = LAPSED.replace("plays >= 100", "plays >= 100000")
    assert put(live_server, music.secret_key, "lapsed", nobody).json()["version"] == 2
    saved = http("PUT", f"{live_server.url}/v1/templates/year-in-music?publish=true", story_template().encode(),
                 {"Content-Type": "application/toml", **basic(music.secret_key)})
    assert saved.status in (200, 201), saved.body
    member = sorted(music.lapsed)[0]
    assert get(live_server, music.secret_key, f"/v1/stories/year-in-music?user_id={member}").status == 404


def test_the_command_line_pushes_lists_and_shows_audiences(music, app, tmp_path):
    file = tmp_path / "lapsed.toml"
    file.write_text(LAPSED)
    pushed = cli(app, "audiences", "push", str(file), "--app", "Soundwave")
    assert (pushed.exit_code, pushed.output) == (0, "lapsed version 1 saved\n")
    assert cli(app, "audiences", "list", "--app", "Soundwave").output == "lapsed\tv1\tnever refreshed\n"
    assert cli(app, "audiences", "show", "lapsed", "--app", "Soundwave").output == LAPSED
    assert cli(app, "audiences", "refresh", "--app", "Soundwave").exit_code == 0
    listed = cli(app, "audiences", "list", "--app", "Soundwave").output
    assert listed.startswith(f"lapsed\tv1\t{len(music.lapsed)} members at ")

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"when": "plyas > 1"}))
    refused = cli(app, "audiences", "push", str(broken), "--app", "Soundwave")
    assert refused.exit_code == 1 and "when: 'plyas' is not a metric" in refused.output
    assert "nothing was saved" in refused.output
    assert "No audience named 'broken'" in cli(app, "audiences", "show", "broken", "--app", "Soundwave").output
    assert cli(app, "audiences", "refresh", "--app", "Soundwave", "--id", "broken").exit_code == 1
    churn = tmp_path / "likely_to_churn.toml"
    churn.write_text(LAPSED)
    assert "is built in" in cli(app, "audiences", "push", str(churn), "--app", "Soundwave").output


def publish(server, key: str, template: str) -> None:
    saved = http("PUT", f"{server.url}/v1/templates/year-in-music?publish=true", template.encode(),
                 {"Content-Type": "application/toml", **basic(key)})
    assert saved.status in (200, 201), saved.body


def test_eligibility_reads_the_stored_members_until_they_are_stale(music, app, live_server, query):
    assert put(live_server, music.secret_key, "lapsed", LAPSED).status == 201
    assert cli(app, "audiences", "refresh", "--app", "Soundwave").exit_code == 0
    publish(live_server, music.secret_key, story_template())
    back = sorted(music.lapsed)[0]
    send(live_server, music.write_key, [track(back, "Song Played", day_at_noon(1), {"artist": "Nova"})])
    story = f"/v1/stories/year-in-music?user_id={back}"
    assert get(live_server, music.secret_key, story).status == 200  # the last refresh's answer, an hour fresh
    query("UPDATE audience_count SET computed_at = computed_at - ?", 3 * 3600 * 1000)
    assert get(live_server, music.secret_key, story).status == 404  # stale: computed for them now, back listening


def test_likely_to_churn_admits_exactly_the_scored_churners_to_a_story(music, app, live_server):
    with app.app_context(), database.connection_context():
        model = ChurnModel.create(app_id=music.app_id, horizon_days=28, report={}, model=b"")
        for u in range(USERS):
            ChurnScore.create(app_id=music.app_id, user_id=f"user-{u:03d}", score=(u % 4) / 4, model_id=model.id)
    publish(live_server, music.secret_key, story_template("likely_to_churn"))
    for u in range(8):
        reply = get(live_server, music.secret_key, f"/v1/stories/year-in-music?user_id=user-{u:03d}")
        assert reply.status == (200 if u % 4 >= 2 else 404), (u, reply.body)
