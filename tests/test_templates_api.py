"""Templates as data (DESIGN.md): /v1/templates puts versions, previews a draft, publishes and
rolls back; stories, shares and builds follow the published version in every process."""
from __future__ import annotations

import json
import logging
import threading
import tomllib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from demo_app.serving import free_port
from helpers.postgres import new_database
from helpers.production import Gunicorn
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.share import USER, bearer, plays, post_json
from helpers.story import NOW, app_template, card_title_lines, send, viewer_token
from widget_server import create_app
from widget_server.engine.templates import MAX_TEMPLATE_BYTES, SHIPPED_DIR
from widget_server.store.db import database
from widget_server.store.models import ApiKey, PrecomputedStory, Share

SHIPPED = (SHIPPED_DIR / "year_in_music.toml").read_text()
CARD_TITLE = card_title_lines((SHIPPED_DIR / "year_in_music.toml").read_text())
REMASTERED = SHIPPED.replace(CARD_TITLE, 'title = "Your year, remastered"')
BROKEN = SHIPPED.replace(CARD_TITLE, "title = 3").replace('kind = "year"', 'kind = "decade"', 1)
NOW_ARG = ["--now", NOW.isoformat()]


def put(server, key: str, template_id: str, text: str, query: str = "",
        content_type: str = "application/toml") -> object:
    return http("PUT", f"{server.url}/v1/templates/{template_id}{query}", text.encode(),
                {"Content-Type": content_type, **basic(key)})


def get(server, key: str, path: str) -> object:
    return http("GET", server.url + path, None, basic(key))


def version_call(server, key: str, template_id: str, action: str, body: object) -> object:
    return post_json(server, f"/v1/templates/{template_id}/{action}", body, basic(key))


def card_title(server, headers: dict, query: str = "", template_id: str = "year-in-music") -> tuple[int, str, int]:
    reply = http("GET", f"{server.url}/v1/stories/{template_id}{query}", None, headers)
    assert reply.status == 200, reply.body
    story = reply.json()
    return story["version"], story["card"]["title"], story["source"]


def secret_user(user: str = USER) -> str:
    return f"?user_id={quote(user)}"


def key_id(secret_key: str) -> int:
    with database.connection_context():
        return ApiKey.get(ApiKey.prefix == secret_key[:12]).id


def test_put_preview_publish_and_the_story_changes(soundwave, live_server):
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert card_title(live_server, viewer) == (0, "Ana's 2026 in Music", "on_demand")  # the shipped default

    saved = put(live_server, soundwave.secret_key, "year-in-music", REMASTERED)
    # The first save copies the default in as version 1, published: the draft is version 2.
    assert saved.status == 201 and saved.json() == {"id": "year-in-music", "version": 2, "status": "draft"}
    assert card_title(live_server, viewer)[:2] == (1, "Ana's 2026 in Music")  # a draft serves no one
    preview = card_title(live_server, basic(soundwave.secret_key), secret_user() + "&version=2")
    assert preview == (2, "Your year, remastered", "on_demand")
    refused = http("GET", f"{live_server.url}/v1/stories/year-in-music?version=2", None, viewer)
    assert refused.status == 403 and refused.json()["error"]["details"] == {"version": ["Needs the secret key."]}

    published = version_call(live_server, soundwave.secret_key, "year-in-music", "publish", {"version": 2})
    assert published.status == 200 and published.json() == {"id": "year-in-music", "published": 2}
    assert card_title(live_server, viewer)[:2] == (2, "Your year, remastered")
    shared = post_json(live_server, "/v1/shares", {"template": "year-in-music"}, viewer)
    assert shared.status == 201, shared.body
    with database.connection_context():
        assert Share.get_by_id(shared.json()["id"]).template_version == 2

    listed = get(live_server, soundwave.secret_key, "/v1/templates").json()["templates"]
    assert {"id": "year-in-music", "published": 2, "latest": 2, "source": "database"} in listed
    assert {"id": "learning-recap", "published": None, "latest": 0, "source": "default"} in listed
    shown = get(live_server, soundwave.secret_key, "/v1/templates/year-in-music").json()
    assert (shown["version"], shown["status"], shown["source"]) == (2, "published", REMASTERED)
    assert [(v["version"], v["status"]) for v in shown["versions"]] == [(1, "draft"), (2, "published")]
    first = get(live_server, soundwave.secret_key, "/v1/templates/year-in-music/versions/1").json()
    assert first["source"] == SHIPPED and first["format"] == "toml"
    trail = get(live_server, soundwave.secret_key, "/v1/templates/year-in-music/audit").json()["audit"]
    key = key_id(soundwave.secret_key)
    assert [(e["action"], e["version"], e["key_id"], e["key_prefix"]) for e in trail] == [
        ("import", 1, None, None), ("put", 2, key, soundwave.secret_key[:12]),
        ("publish", 2, key, soundwave.secret_key[:12])]


def test_an_invalid_put_is_refused_with_paths_as_check_says_and_the_published_version_serves(
        soundwave, live_server, runner, tmp_path):
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert put(live_server, soundwave.secret_key, "year-in-music", REMASTERED, "?publish=1").json() == {
        "id": "year-in-music", "version": 2, "status": "published"}
    refused = put(live_server, soundwave.secret_key, "year-in-music", BROKEN)
    assert refused.status == 422, refused.body
    error = refused.json()["error"]
    assert error["code"] == "template_invalid"
    # The same paths and reasons as `recap templates check` prints for the same text in a file.
    file = tmp_path / "year_in_music.toml"
    file.write_text(BROKEN)
    checked = runner.invoke(args=["templates", "check", str(file)])
    assert checked.exit_code == 1
    said = [f"{file}: {e['path'] or '<root>'}: {e['reason']}" for e in error["details"]["errors"]]
    assert said == [line for line in checked.output.splitlines() if line.startswith(str(file))]
    assert {"card.title", "period.kind"} <= {e["path"] for e in error["details"]["errors"]}
    # Nothing was saved, and the last good version keeps serving.
    assert get(live_server, soundwave.secret_key, "/v1/templates/year-in-music").json()["latest"] == 2
    assert card_title(live_server, viewer)[:2] == (2, "Your year, remastered")

    for text, content_type, path in [
            (REMASTERED.replace('id = "year-in-music"', 'id = "other"'), "application/toml", "id"),
            ("id = [", "application/toml", ""), ("[1, 2]", "application/json", ""),
            ("a = " + "[" * 100_000, "application/toml", ""), ('{"a": ' + "[" * 100_000, "application/json", ""),
            ('{"id": "year-in-music", "metrics": {"x": ' + "[" * 900 + "]" * 900 + "}}", "application/json",
             "metrics.x")]:
        reply = put(live_server, soundwave.secret_key, "year-in-music", text, content_type=content_type)
        assert reply.status == 422 and path in [e["path"] for e in reply.json()["error"]["details"]["errors"]], (
            reply.body)
    wrong_type = put(live_server, soundwave.secret_key, "year-in-music", REMASTERED, content_type="text/html")
    assert wrong_type.status == 415 and "Content-Type" in wrong_type.json()["error"]["details"]
    too_big = put(live_server, soundwave.secret_key, "year-in-music", REMASTERED + "#" * MAX_TEMPLATE_BYTES)
    assert too_big.status == 413
    for key in (soundwave.write_key, None):
        headers = {"Content-Type": "application/toml", **(basic(key) if key else {})}
        denied = http("PUT", f"{live_server.url}/v1/templates/year-in-music", REMASTERED.encode(), headers)
        assert denied.status == 401, denied.body
    denied = http("GET", f"{live_server.url}/v1/templates", None, viewer)
    assert denied.status == 401


UNREADABLE = """id = "yellow"
title = "t"
[period]
kind = "last_days"
days = 7
[metrics.plays]
kind = "count"
event = "Song Played"
[[frames]]
id = "plays"
kind = "stat"
title = "Songs played"
stat = { value = "{{ plays }}" }
background = { gradient = ["#ffc800", "#ff9600"] }
[card]
title = "c"
"""


def test_text_under_aa_contrast_is_refused_as_check_refuses_it(soundwave, live_server, runner, tmp_path):
    refused = put(live_server, soundwave.secret_key, "yellow", UNREADABLE)
    assert refused.status == 422, refused.body
    errors = refused.json()["error"]["details"]["errors"]
    assert errors[0]["path"] == "frames[0]" and errors[0]["reason"].startswith("frames plays: ")
    file = tmp_path / "yellow.toml"
    file.write_text(UNREADABLE)
    checked = runner.invoke(args=["templates", "check", str(file)])
    pushed = runner.invoke(args=["templates", "push", str(file), "--app", "Soundwave"])
    said = [f"{file}: {e['path']}: {e['reason']}" for e in errors]
    for result in (checked, pushed):
        assert result.exit_code == 1 and [line for line in result.output.splitlines()
                                          if line.startswith(f"{file}: ")] == said, result.output
    assert get(live_server, soundwave.secret_key, "/v1/templates/yellow").status == 404  # nothing saved


def test_a_json_put_of_the_same_shape_is_a_version_too(soundwave, live_server):
    as_json = json.dumps(tomllib.loads(REMASTERED))
    saved = put(live_server, soundwave.secret_key, "year-in-music", as_json, "?publish=1",
                content_type="application/json")
    assert saved.status == 201 and saved.json()["version"] == 2, saved.body
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert card_title(live_server, viewer)[:2] == (2, "Your year, remastered")
    stored = get(live_server, soundwave.secret_key, "/v1/templates/year-in-music/versions/2").json()
    assert stored["format"] == "json" and stored["source"] == as_json


def test_rollback_publishes_an_earlier_version(soundwave, live_server):
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    put(live_server, soundwave.secret_key, "year-in-music", REMASTERED, "?publish=1")
    assert card_title(live_server, viewer)[:2] == (2, "Your year, remastered")
    back = version_call(live_server, soundwave.secret_key, "year-in-music", "rollback", {"version": 1})
    assert back.status == 200 and back.json() == {"id": "year-in-music", "published": 1}
    assert card_title(live_server, viewer)[:2] == (1, "Ana's 2026 in Music")

    later = version_call(live_server, soundwave.secret_key, "year-in-music", "rollback", {"version": 2})
    assert later.status == 422 and later.json()["error"]["details"] == {"version": ["Must be less than 1."]}
    missing = version_call(live_server, soundwave.secret_key, "year-in-music", "publish", {"version": 9})
    assert missing.status == 404 and missing.json()["error"]["details"] == {"template": "year-in-music", "version": 9}
    for body in ({"version": "2"}, {"version": 0}, {}, [2]):
        bad = version_call(live_server, soundwave.secret_key, "year-in-music", "publish", body)
        assert bad.status in (400, 422) and bad.status != 500, bad.body
    again = version_call(live_server, soundwave.secret_key, "year-in-music", "publish", {"version": 2})
    assert again.status == 200 and card_title(live_server, viewer)[:2] == (2, "Your year, remastered")
    unknown = get(live_server, soundwave.secret_key, "/v1/templates/no-such")
    assert unknown.status == 404


def test_a_new_templates_drafts_serve_no_one_until_one_is_published(soundwave, live_server):
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    fresh = SHIPPED.replace('id = "year-in-music"', 'id = "fresh-one"')
    saved = put(live_server, soundwave.secret_key, "fresh-one", fresh)
    assert saved.status == 201 and saved.json() == {"id": "fresh-one", "version": 1, "status": "draft"}
    unpublished = http("GET", f"{live_server.url}/v1/stories/fresh-one", None, viewer)
    assert unpublished.status == 404 and unpublished.json()["error"]["code"] == "not_found"
    shown = get(live_server, soundwave.secret_key, "/v1/templates/fresh-one").json()
    assert (shown["status"], shown["source"], shown["published"], shown["latest"]) == ("unpublished", None, None, 1)
    assert card_title(live_server, basic(soundwave.secret_key), secret_user() + "&version=1",
                      template_id="fresh-one")[0] == 1
    missing = http("GET", f"{live_server.url}/v1/stories/fresh-one{secret_user()}&version=7", None,
                   basic(soundwave.secret_key))
    assert missing.status == 404 and missing.json()["error"]["details"] == {"template": "fresh-one", "version": 7}
    for bad in ("x", "0", "-1", "99999999999"):
        reply = http("GET", f"{live_server.url}/v1/stories/fresh-one{secret_user()}&version={bad}", None,
                     basic(soundwave.secret_key))
        assert reply.status == 422 and reply.json()["error"]["details"] == {"version": ["Not a version number."]}
    version_call(live_server, soundwave.secret_key, "fresh-one", "publish", {"version": 1})
    assert card_title(live_server, viewer, template_id="fresh-one")[:2] == (1, "Ana's 2026 in Music")
    default = get(live_server, soundwave.secret_key, "/v1/templates/learning-recap").json()
    assert (default["status"], default["version"], default["versions"]) == ("default", 0, [])
    assert default["source"] == (SHIPPED_DIR / "learning_recap.toml").read_text()


def test_a_built_story_of_version_1_is_not_served_once_version_2_is_published(soundwave, live_server, runner,
                                                                                query):
    mine = SHIPPED.replace('id = "year-in-music"', 'id = "my-year"')
    assert put(live_server, soundwave.secret_key, "my-year", mine, "?publish=1").json()["version"] == 1
    built = runner.invoke(args=["stories", "build", "--inline", "my-year", "--app", "Soundwave", *NOW_ARG])
    assert built.exit_code == 0 and "built 2 stories" in built.output, built.output
    assert query("SELECT DISTINCT template_version FROM precomputed_story") == [(1,)]
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert card_title(live_server, viewer, template_id="my-year") == (1, "Ana's 2026 in Music", "precomputed")

    put(live_server, soundwave.secret_key, "my-year", mine.replace(CARD_TITLE, 'title = "Version two"'))
    assert card_title(live_server, viewer, template_id="my-year")[2] == "precomputed"  # a draft changes nothing
    version_call(live_server, soundwave.secret_key, "my-year", "publish", {"version": 2})
    assert card_title(live_server, viewer, template_id="my-year") == (2, "Version two", "on_demand")
    with database.connection_context():
        assert PrecomputedStory.select().where(PrecomputedStory.template_version == 1).count() == 2
    # Rolled back to version 1, its built stories are its own again.
    version_call(live_server, soundwave.secret_key, "my-year", "rollback", {"version": 1})
    assert card_title(live_server, viewer, template_id="my-year") == (1, "Ana's 2026 in Music", "precomputed")


def test_an_apps_file_is_imported_once_as_version_1_then_the_database_is_the_truth(soundwave, app, live_server):
    path = app_template(app.instance_path, soundwave.app_id, "year_in_music", REMASTERED)
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert card_title(live_server, viewer)[:2] == (1, "Your year, remastered")
    path.write_text(SHIPPED)  # a file edited on one server of many: no longer read
    assert card_title(live_server, viewer)[:2] == (1, "Your year, remastered")
    trail = get(live_server, soundwave.secret_key, "/v1/templates/year-in-music/audit").json()["audit"]
    assert [(e["action"], e["version"]) for e in trail] == [("import", 1)]


def test_push_and_pull_for_templates_kept_in_git(soundwave, live_server, runner, tmp_path):
    file = tmp_path / "year_in_music.toml"
    file.write_text(REMASTERED)
    pushed = runner.invoke(args=["templates", "push", str(file), "--app", "Soundwave"])
    assert pushed.exit_code == 0 and "year-in-music version 2 saved (draft)" in pushed.output, pushed.output
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    assert card_title(live_server, viewer)[:2] == (1, "Ana's 2026 in Music")
    assert runner.invoke(args=["templates", "publish", "year-in-music", "2", "--app", "Soundwave"]).exit_code == 0
    assert card_title(live_server, viewer)[:2] == (2, "Your year, remastered")
    pulled = runner.invoke(args=["templates", "pull", "year-in-music", "--app", "Soundwave"])
    assert pulled.exit_code == 0 and pulled.output == REMASTERED
    out = tmp_path / "v1.toml"
    assert runner.invoke(args=["templates", "pull", "year-in-music", "--app", "Soundwave", "--version", "1",
                               "-o", str(out)]).exit_code == 0
    assert out.read_text() == SHIPPED

    file.write_text(BROKEN)
    refused = runner.invoke(args=["templates", "push", str(file), "--app", "Soundwave", "--publish"])
    checked = runner.invoke(args=["templates", "check", str(file)])
    assert refused.exit_code == 1 and "nothing was saved" in refused.output
    named = [line for line in checked.output.splitlines() if line.startswith(f"{file}: ")]
    assert named and [line for line in refused.output.splitlines() if line.startswith(f"{file}: ")] == named
    rolled = runner.invoke(args=["templates", "rollback", "year-in-music", "1", "--app", "Soundwave"])
    assert rolled.exit_code == 0 and card_title(live_server, viewer)[:2] == (1, "Ana's 2026 in Music")
    history = runner.invoke(args=["templates", "history", "year-in-music", "--app", "Soundwave"]).output
    assert "version 2 draft toml" in history and "rollback version 1 by the command line" in history


def test_two_server_processes_see_the_same_published_version(soundwave, app, live_server):
    """One process here (the live server), and gunicorn's (README's command line) over the same
    SQLite file."""
    database.close()
    port = free_port()
    server = Gunicorn(Path(app.instance_path), port).start()
    other = SimpleNamespace(url=f"http://127.0.0.1:{port}")
    try:
        viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
        assert card_title(other, viewer)[:2] == card_title(live_server, viewer)[:2] == (0, "Ana's 2026 in Music")
        put(live_server, soundwave.secret_key, "year-in-music", REMASTERED, "?publish=1")
        assert card_title(other, viewer)[:2] == (2, "Your year, remastered")
        back = version_call(other, soundwave.secret_key, "year-in-music", "rollback", {"version": 1})
        assert back.status == 200, back.body
        assert card_title(live_server, viewer)[:2] == card_title(other, viewer)[:2] == (1, "Ana's 2026 in Music")
        version_call(live_server, soundwave.secret_key, "year-in-music", "publish", {"version": 2})
        assert card_title(other, viewer)[:2] == (2, "Your year, remastered")
    finally:
        server.stop()


@pytest.mark.parametrize("template_id", ["..etc", "a" * 65, "UPPER"])
def test_a_template_id_not_of_the_ids_form_is_unknown(soundwave, live_server, template_id):
    reply = put(live_server, soundwave.secret_key, quote(template_id, safe=""), REMASTERED)
    assert reply.status == 404 and reply.json()["error"]["details"] == {"template": template_id}, reply.body


SAVES_AT_ONCE = 6


def saves_at_once(server, key: str, template_id: str, text: str) -> list:
    """``SAVES_AT_ONCE`` puts of ``text``, sent together, each on a connection of its own."""
    start, replies = threading.Barrier(SAVES_AT_ONCE), []

    def save() -> None:
        start.wait()
        replies.append(put(server, key, template_id, text))

    threads = [threading.Thread(target=save) for _ in range(SAVES_AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return replies


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_put_publish_rollback_and_saves_at_once_on_either_store(backend, request, tmp_path):
    """The same answers on SQLite and PostgreSQL; saves sent at once each get a number of their own."""
    config = {"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True}
    if backend == "postgresql":
        config["DATABASE_URL"] = new_database(request.getfixturevalue("postgres"), "templates_api")
    server = LiveServer(create_app(config)).start()
    try:
        tenant = make_tenant("Soundwave")
        send(server, tenant.write_key, plays(USER, 40))
        viewer = bearer(viewer_token(server, tenant.secret_key, USER))
        assert put(server, tenant.secret_key, "year-in-music", REMASTERED).json()["version"] == 2
        assert card_title(server, basic(tenant.secret_key), secret_user() + "&version=2")[:2] == (
            2, "Your year, remastered")
        assert card_title(server, viewer)[:2] == (1, "My 2026 in Music")
        assert version_call(server, tenant.secret_key, "year-in-music", "publish", {"version": 2}).status == 200
        assert card_title(server, viewer)[:2] == (2, "Your year, remastered")
        assert put(server, tenant.secret_key, "year-in-music", BROKEN).status == 422
        assert card_title(server, viewer)[:2] == (2, "Your year, remastered")
        assert version_call(server, tenant.secret_key, "year-in-music", "rollback", {"version": 1}).status == 200
        assert card_title(server, viewer)[:2] == (1, "My 2026 in Music")

        # At once, to a template saved before and to one never saved (whose first row they race to make).
        for template_id, text, first in (("year-in-music", REMASTERED, 3),
                                         ("at-once", SHIPPED.replace('id = "year-in-music"', 'id = "at-once"'), 1)):
            replies = saves_at_once(server, tenant.secret_key, template_id, text)
            assert sorted(r.status for r in replies) == [201] * SAVES_AT_ONCE, [r.body for r in replies]
            assert sorted(r.json()["version"] for r in replies) == list(range(first, first + SAVES_AT_ONCE))
    finally:
        server.stop()
        database.close()


def test_a_stored_version_the_engine_now_refuses_is_unavailable_to_viewers_and_logged_once(
        soundwave, live_server, query, caplog):
    """As after an upgrade whose engine refuses what an earlier one saved: a new version fixes it."""
    put(live_server, soundwave.secret_key, "year-in-music", REMASTERED, "?publish=1")
    query("UPDATE template_version SET source = ? WHERE version = 2", BROKEN)
    viewer = bearer(viewer_token(live_server, soundwave.secret_key, USER))
    with caplog.at_level(logging.ERROR, logger="widget_server.engine.templates"):
        replies = [http("GET", f"{live_server.url}/v1/stories/year-in-music", None, viewer) for _ in range(2)]
        secret = http("GET", f"{live_server.url}/v1/stories/year-in-music{secret_user()}", None,
                      basic(soundwave.secret_key))
    assert [r.status for r in replies] == [503, 503]
    assert replies[0].json()["error"]["details"] == {"template": "year-in-music"}
    assert secret.status == 422 and secret.json()["error"]["details"]["file"] == (
        f"app {soundwave.app_id} template year-in-music version 2")
    logged = [r.getMessage() for r in caplog.records if "version 2 is invalid" in r.getMessage()]
    assert len(logged) == 1 and "card.title" in logged[0]
    put(live_server, soundwave.secret_key, "year-in-music", REMASTERED, "?publish=1")
    assert card_title(live_server, viewer)[:2] == (3, "Your year, remastered")
