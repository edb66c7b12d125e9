"""Triggers as data (DESIGN.md "Triggers"): PUT /v1/triggers/<id> in JSON or TOML, versioned, 422
naming each key path; webhook URLs only where they may go; the app's webhook secret printed once,
derived again to sign, and rotated."""
from __future__ import annotations

import json

import pytest

from helpers.server import basic, http, make_tenant
from helpers.triggers import cli, put_trigger, release_trigger, webhook_tenant
from widget_server.auth import webhook_secret
from widget_server.store.db import database
from widget_server.triggers import webhook_urls

HOOK = "https://hooks.example.app/recap"

TOML = """
[on]
event = "Lesson Completed"

[metrics.lessons]
kind = "count"
event = "Lesson Completed"

[message]
title = "Lesson {{ lessons }}!"

webhook = "https://hooks.example.app/recap"
"""
TOML = TOML.replace('\nwebhook = "https://hooks.example.app/recap"\n', "").replace(
    "[on]", 'webhook = "https://hooks.example.app/recap"\n\n[on]')


def test_a_trigger_put_in_json_then_toml_is_versioned_and_listed(live_server, app):
    tenant = webhook_tenant(app)
    first = put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(HOOK))
    assert (first.status, first.json()) == (201, {"id": "new-release", "version": 1})
    second = put_trigger(live_server, tenant.secret_key, "new-release", TOML, "application/toml")
    assert (second.status, second.json()["version"]) == (201, 2)

    listed = http("GET", live_server.url + "/v1/triggers", None, basic(tenant.secret_key)).json()["triggers"]
    assert [(t["id"], t["latest"], t["cause"], t["on"], t["enabled"]) for t in listed] == [
        ("new-release", 2, "event", {"event": "Lesson Completed"}, True)]
    shown = http("GET", live_server.url + "/v1/triggers/new-release", None, basic(tenant.secret_key)).json()
    assert (shown["version"], shown["format"], shown["source"]) == (2, "toml", TOML)
    assert [(v["version"], v["format"]) for v in shown["versions"]] == [(1, "json"), (2, "toml")]


def test_another_apps_triggers_are_not_listed(live_server, app):
    tenant, other = webhook_tenant(app), webhook_tenant(app, "Other")
    assert put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(HOOK)).status == 201
    assert http("GET", live_server.url + "/v1/triggers", None, basic(other.secret_key)).json() == {"triggers": []}
    assert http("GET", live_server.url + "/v1/triggers/new-release", None, basic(other.secret_key)).status == 404


def test_only_the_secret_key_puts_or_reads_triggers(live_server, app):
    tenant = webhook_tenant(app)
    assert put_trigger(live_server, tenant.write_key, "new-release", release_trigger(HOOK)).status == 401
    assert http("GET", live_server.url + "/v1/triggers", None, basic(tenant.write_key)).status == 401
    assert http("GET", live_server.url + "/v1/triggers").status == 401


@pytest.mark.parametrize("changes, path, reason", [
    ({"on": {}}, "on", "Name one cause"),
    ({"on": {"event": "X", "story": "year-in-music"}}, "on", "Name one cause"),
    ({"on": {"metric": "top_artists"}}, "on.reaches", "needs 'reaches'"),
    ({"on": {"metric": "top_artists", "reaches": 5}}, "on.metric", "'reaches' compares a number"),
    ({"on": {"metric": "nosuch", "reaches": 5}}, "on.metric", "No metric named 'nosuch'"),
    ({"on": {"event": "X", "reaches": 5}}, "on.reaches", "has no 'reaches'"),
    ({"on": {"event": "X", "where": {"kind": {"~": 1}}}}, "on.where.kind.value", "Unknown operator"),
    ({"metrics": {"top_artists": {"kind": "top"}}}, "metrics.top_artists.property", "needs 'property'"),
    ({"metrics": {"p": {"kind": "count"}, "r": {"kind": "percentile", "of": "p"}}}, "metrics.r.kind",
     "cannot use a percentile"),
    ({"audience": "top_artist | length > 1"}, "audience", "'top_artist' is not a metric"),
    ({"audience": "event.properties.artist in"}, "audience", "Template syntax error"),
    ({"message": {"title": "Hi {{ usr.name }}"}}, "message.title", "'usr' is not a metric"),
    ({"message": {"body": "no title"}}, "message.title", "Missing data"),
    ({"limits": {"quiet_hours": ["22:00"]}}, "limits.quiet_hours", "two times"),
    ({"limits": {"quiet_hours": ["24:00", "09:00"]}}, "limits.quiet_hours[0]", "Use HH:MM"),
    ({"limits": {"per_user_per_day": 0}}, "limits.per_user_per_day", "greater than or equal to 1"),
    ({"period": {"kind": "last_days"}}, "period.days", "needs 'days'"),
    ({"webhook": "http://hooks.example.app/x"}, "webhook", "A webhook is https"),
    ({"webhook": "https://10.0.0.7/x"}, "webhook", "private"),
    ({"webhook": "https://169.254.169.254/latest"}, "webhook", "link-local"),
    ({"webhook": "https://user:pw@hooks.example.app/x"}, "webhook", "no user name"),
    ({"id": "other"}, "id", "must be the trigger's"),
    ({"story": "no-such-story"}, "story", "no story template 'no-such-story'"),
    ({"on": {"story": "no-such-story"}}, "on.story", "no story template"),
    ({"colour": "red"}, "colour", "Unknown field"),
])
def test_an_invalid_trigger_is_refused_naming_its_path(live_server, app, changes, path, reason):
    tenant = webhook_tenant(app)
    reply = put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(HOOK, **changes))
    assert reply.status == 422, reply.body
    error = reply.json()["error"]
    assert error["code"] == "trigger_invalid"
    assert any(e["path"] == path and reason in e["reason"] for e in error["details"]["errors"]), error
    assert http("GET", live_server.url + "/v1/triggers", None, basic(tenant.secret_key)).json() == {"triggers": []}


@pytest.mark.parametrize("body, content_type, reason", [
    ("{", "application/json", "Not valid JSON"),
    ("[1]", "application/json", "Not a JSON object"),
    ("on = ", "application/toml", "Not valid TOML"),
])
def test_a_body_that_does_not_parse_is_refused(live_server, app, body, content_type, reason):
    tenant = webhook_tenant(app)
    reply = put_trigger(live_server, tenant.secret_key, "new-release", body, content_type)
    assert reply.status == 422 and reason in reply.json()["error"]["details"]["errors"][0]["reason"], reply.body


def test_a_trigger_id_of_another_form_is_not_found(live_server, app):
    tenant = webhook_tenant(app)
    assert put_trigger(live_server, tenant.secret_key, "Bad_Id", release_trigger(HOOK)).status == 404


def test_an_app_without_a_webhook_secret_is_told_how_to_make_one(live_server, app):
    tenant = make_tenant("No Secret")
    reply = put_trigger(live_server, tenant.secret_key, "new-release", release_trigger(HOOK))
    assert reply.status == 409 and "--kind webhook" in reply.json()["error"]["message"], reply.body


def test_local_webhooks_need_the_setting(live_server, app):
    tenant = webhook_tenant(app)
    local = release_trigger("http://127.0.0.1:9/hook")
    refused = put_trigger(live_server, tenant.secret_key, "new-release", local)
    assert refused.status == 422 and "RECAP_WEBHOOK_ALLOW_LOCAL" in refused.body.decode()
    app.config["WEBHOOK_ALLOW_LOCAL"] = True
    assert put_trigger(live_server, tenant.secret_key, "new-release", local).status == 201


@pytest.mark.parametrize("url, allow_local, refused", [
    ("https://hooks.example.app/x", False, None),
    ("http://127.0.0.1:8000/x", True, None),
    ("http://localhost/x", True, None),
    ("http://127.0.0.1:8000/x", False, "A webhook is https"),
    ("https://127.0.0.1/x", False, "RECAP_WEBHOOK_ALLOW_LOCAL"),
    ("http://192.168.1.5/x", True, "A webhook is https"),
    ("https://192.168.1.5/x", True, "private"),
    ("https://[fe80::1]/x", True, "link-local"),
    ("https://[::ffff:10.1.2.3]/x", True, "private"),
    ("https://100.64.0.1/x", True, "private or reserved"),
    ("https://0.0.0.0/x", True, "private or reserved"),
    ("ftp://hooks.example.app/x", True, "an https URL"),
    ("https://hooks.example.app/x#frag", True, "fragment"),
])
def test_webhook_urls_by_their_form(url, allow_local, refused):
    reason = webhook_urls.refusal(url, allow_local=allow_local)
    assert (reason is None) if refused is None else (refused in (reason or "")), reason


def test_a_delivery_resolves_the_name_and_checks_the_address():
    target = webhook_urls.resolve("http://localhost:8123/hook?a=1", allow_local=True)
    assert (target.scheme, target.host, target.port, target.path) == ("http", "localhost", 8123, "/hook?a=1")
    assert target.address in ("127.0.0.1", "::1")
    with pytest.raises(webhook_urls.Refused, match="ALLOW_LOCAL"):
        webhook_urls.resolve("https://localhost/hook", allow_local=False)
    with pytest.raises(webhook_urls.Refused, match="does not resolve"):
        webhook_urls.resolve("https://no-such-host.invalid/hook", allow_local=False)


def test_apps_create_prints_the_webhook_secret_the_server_derives_again(app):
    created = cli(app, "apps", "create", "Podcasts")
    lines = dict(line.split(": ", 1) for line in created.output.splitlines())
    assert lines["webhook secret"].startswith("whsec_")
    with app.app_context(), database.connection_context():
        assert webhook_secret(int(lines["app_id"])) == lines["webhook secret"]
    # A new signing key leaves it as it is (the older key still derives it) ...
    assert cli(app, "keys", "rotate-signing").exit_code == 0
    with app.app_context(), database.connection_context():
        assert webhook_secret(int(lines["app_id"])) == lines["webhook secret"]
    # ... and rotating it gives a new one, which is then the one derived.
    rotated = cli(app, "keys", "rotate", "Podcasts", "--kind", "webhook").output.strip().removeprefix(
        "webhook secret: ")
    assert rotated.startswith("whsec_") and rotated != lines["webhook secret"]
    with app.app_context(), database.connection_context():
        assert webhook_secret(int(lines["app_id"])) == rotated
    # The database alone does not hold it.
    with app.app_context(), database.connection_context():
        dumped = json.dumps([list(row) for row in database.execute_sql("SELECT * FROM webhook_secret")])
    assert rotated not in dumped and rotated.removeprefix("whsec_") not in dumped


def test_the_cli_pushes_lists_and_shows_triggers(app, tmp_path):
    tenant = webhook_tenant(app)
    path = tmp_path / "lesson_milestone.toml"
    path.write_text(TOML)
    pushed = cli(app, "triggers", "push", str(path), "--app", str(tenant.app_id))
    assert pushed.exit_code == 0 and "lesson-milestone version 1 saved" in pushed.output, pushed.output
    listed = cli(app, "triggers", "list", "--app", str(tenant.app_id)).output
    assert listed.startswith("lesson-milestone\tv1\t") and HOOK in listed
    assert cli(app, "triggers", "show", "lesson-milestone", "--app", str(tenant.app_id)).output == TOML
    path.write_text(TOML.replace("{{ lessons }}", "{{ lesons }}"))
    refused = cli(app, "triggers", "push", str(path), "--app", str(tenant.app_id))
    assert refused.exit_code == 1 and f"{path}: message.title: 'lesons'" in refused.output, refused.output
    assert cli(app, "triggers", "list", "--app", str(tenant.app_id)).output.count("\n") == 1
