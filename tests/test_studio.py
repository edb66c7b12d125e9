"""The studio: its sign-in and session, the JSON its page calls, and the page in Chromium.

A real server on loopback, a real SQLite store; an app with the player tests' template as its
own file (imported as version 1 on first read) and a few listeners, one of them not eligible.
"""
from __future__ import annotations

import json
import re
import time
import urllib.parse
from http.client import HTTPConnection

import pytest

from helpers.browser import leave, servers_before_pages
from helpers.player import TEMPLATE, ingest_plays
from helpers.server import basic, http, make_tenant
from helpers.story import app_template
from widget_server.auth import rotate_key
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App

TEMPLATE_ID = "player-test"


@pytest.fixture
def studio_app(app, live_server):
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    # The player tests' template, its list on a background that reads (a save checks contrast).
    text = TEMPLATE.format(id=TEMPLATE_ID, ms=6000).replace(
        'id = "top-artists"\nkind = "list"', 'id = "top-artists"\nkind = "list"\nbackground = { color = "#121212" }')
    app_template(app.instance_path, tenant.app_id, TEMPLATE_ID, text)
    ingest_plays(live_server, tenant, "ana", ["Björk", "Björk", "Mitski"])
    ingest_plays(live_server, tenant, "ben", ["Mitski"])
    reply = http("POST", live_server.url + "/v1/identify", json.dumps({"userId": "idle", "traits": {}}).encode(),
                 {"Content-Type": "application/json", **basic(tenant.write_key)})
    assert reply.status == 200, reply.body
    return tenant


def sign_in(server, key: str):
    body = urllib.parse.urlencode({"key": key}).encode()
    return http("POST", server.url + "/studio/login", body, {"Content-Type": "application/x-www-form-urlencoded"})


def login_cookie(server, key: str) -> str:
    """Sign in without following the redirect: the Set-Cookie header."""
    conn = HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=10)
    conn.request("POST", "/studio/login", urllib.parse.urlencode({"key": key}),
                 {"Content-Type": "application/x-www-form-urlencoded"})
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 303, reply.status
    assert reply.getheader("Location") == "/studio"
    cookie = reply.getheader("Set-Cookie")
    conn.close()
    return cookie


def csrf_of(server, cookie: str) -> str:
    page = http("GET", server.url + "/studio", headers={"Cookie": cookie.split(";", 1)[0]}).body.decode()
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def call(server, cookie: str, method: str, path: str, body=None, csrf: str | None = None, **headers):
    sent = {"Cookie": cookie.split(";", 1)[0], "Content-Type": "application/json", **headers}
    if csrf:
        sent["X-CSRF-Token"] = csrf
    data = json.dumps(body).encode() if body is not None else None
    return http(method, server.url + "/studio/api" + path, data, sent)


@pytest.fixture
def signed_in(live_server, studio_app):
    cookie = login_cookie(live_server, studio_app.secret_key)
    return cookie, csrf_of(live_server, cookie)


def source_of(server, cookie) -> str:
    return call(server, cookie, "GET", f"/templates/{TEMPLATE_ID}").json()["source"]


# --- signing in, the session, CSRF ----------------------------------------------------------------

def test_the_cookie_is_httponly_strict_scoped_and_holds_no_key(live_server, studio_app):
    cookie = login_cookie(live_server, studio_app.secret_key)
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/studio" in flags
    assert any(f.startswith("max-age=") for f in flags)
    assert studio_app.secret_key not in cookie and studio_app.secret_key.split("_")[-1] not in cookie


@pytest.mark.parametrize("key", ["", "rcp_s_not-a-key", "write", "x" * 5000])
def test_anything_but_a_secret_key_is_refused_sign_in(live_server, studio_app, key):
    reply = sign_in(live_server, studio_app.write_key if key == "write" else key)
    assert reply.status == 401
    assert 'role="alert"' in reply.body.decode() and "Set-Cookie" not in reply.headers


def test_sign_in_attempts_are_limited(live_server, studio_app):
    statuses = [sign_in(live_server, "rcp_s_wrong").status for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def test_the_api_needs_the_session_and_changes_need_the_csrf_token_from_the_page(live_server, signed_in):
    cookie, csrf = signed_in
    assert http("GET", live_server.url + "/studio/api/templates").status == 401
    assert call(live_server, cookie, "GET", "/templates").status == 200
    check = f"/templates/{TEMPLATE_ID}/check"
    source = source_of(live_server, cookie)
    assert call(live_server, cookie, "POST", check, {"source": source}).status == 403
    assert call(live_server, cookie, "POST", check, {"source": source}, csrf="forged").status == 403
    assert call(live_server, cookie, "POST", check, {"source": source}, csrf=csrf,
                Origin="https://evil.example").status == 403
    assert call(live_server, cookie, "POST", check, {"source": source}, csrf=csrf, Origin=live_server.url).status == 200


def test_a_session_ends_when_it_expires_and_when_its_key_is_rotated(app, live_server, studio_app):
    app.config["STUDIO_SESSION_SECONDS"] = 1
    cookie = login_cookie(live_server, studio_app.secret_key)
    assert call(live_server, cookie, "GET", "/templates").status == 200
    time.sleep(2.1)   # itsdangerous counts whole seconds
    assert call(live_server, cookie, "GET", "/templates").status == 401
    assert "Sign in" in http("GET", live_server.url + "/studio", headers={"Cookie": cookie.split(";")[0]}).body.decode()
    app.config["STUDIO_SESSION_SECONDS"] = 1800
    cookie = login_cookie(live_server, studio_app.secret_key)
    with database.connection_context():
        rotate_key(App.get_by_id(studio_app.app_id), ApiKey.SECRET)
    assert call(live_server, cookie, "GET", "/templates").status == 401


# --- checking, editing, previewing ------------------------------------------------------------------

def test_a_refusal_names_its_line(live_server, signed_in):
    cookie, csrf = signed_in
    source = source_of(live_server, cookie)
    broken = source.replace('duration_ms = 6000', 'duration_ms = "soon"', 1)
    line = broken.splitlines().index('duration_ms = "soon"') + 1
    errors = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/check", {"source": broken}, csrf=csrf).json()[
        "errors"]
    assert [(e["path"], e["line"]) for e in errors] == [("frames[0].duration_ms", line)]
    lines = source.splitlines()
    garbled = "\n".join(lines[:5] + ["oops oops"] + lines[5:])
    syntax = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/check", {"source": garbled},
                  csrf=csrf).json()["errors"]
    assert syntax[0]["line"] == 6


def test_the_form_edits_the_toml_keeping_what_was_written(live_server, signed_in):
    cookie, csrf = signed_in
    source = "# our music story\n" + source_of(live_server, cookie)
    edited = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/edits", {"source": source, "edits": [
        {"op": "set", "path": ["frames", 0, "title"], "value": "Your month, replayed"},
        {"op": "move", "path": ["frames", 2], "to": 0},
        {"op": "set", "path": ["frames", 1, "enabled"], "value": False}]}, csrf=csrf).json()["source"]
    assert edited.startswith("# our music story\n")
    assert 'title = "Your month, replayed"' in edited
    bad = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/edits", {"source": source, "edits": [
        {"op": "set", "path": ["frames", 99, "title"], "value": "x"}]}, csrf=csrf)
    assert bad.status == 422 and bad.json()["error"]["details"]["errors"][0]["path"] == "edits[0]"
    story = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/preview", {"source": edited, "user_id": "ana"},
                 csrf=csrf).json()
    assert [f["id"] for f in story["story"]["frames"]] == ["top-artists", "plays", "card"]
    assert story["notes"] == [{"frame": "intro", "reason": "turned off (enabled = false)"}]


def test_the_samples_name_a_full_story_and_a_user_who_is_not_eligible(live_server, signed_in):
    cookie, csrf = signed_in
    source = source_of(live_server, cookie)
    samples = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/samples", {"source": source},
                   csrf=csrf).json()["samples"]
    by_label = {s["label"]: s for s in samples}
    assert by_label["Not eligible"]["user_id"] == "idle" and "Play a song first." in by_label["Not eligible"]["why"]
    assert by_label["Fullest story"]["user_id"] in ("ana", "ben")
    refused = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/preview",
                   {"source": source, "user_id": "idle"}, csrf=csrf).json()
    assert refused["story"] is None and refused["not_eligible"]["message"].startswith("Play a song first.")


def test_save_then_publish_changes_the_story_users_get_and_is_audited_under_the_key(live_server, signed_in,
                                                                                   studio_app):
    cookie, csrf = signed_in
    source = source_of(live_server, cookie).replace('title = "Your month in music"',
                                                    'title = "Hello from the studio"', 1)
    saved = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/versions", {"source": source}, csrf=csrf)
    assert saved.status == 201 and saved.json()["status"] == "draft"
    story = http("GET", f"{live_server.url}/v1/stories/{TEMPLATE_ID}?user_id=ana", headers=basic(studio_app.secret_key))
    assert story.json()["title"] == "Your month in music"   # a draft serves no one
    published = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/publish",
                     {"version": saved.json()["version"]}, csrf=csrf)
    assert published.json()["published"] == saved.json()["version"]
    story = http("GET", f"{live_server.url}/v1/stories/{TEMPLATE_ID}?user_id=ana", headers=basic(studio_app.secret_key))
    assert story.json()["title"] == "Hello from the studio"
    audit = http("GET", f"{live_server.url}/v1/templates/{TEMPLATE_ID}/audit", headers=basic(studio_app.secret_key))
    assert [a["action"] for a in audit.json()["audit"]][-2:] == ["put", "publish"]
    assert all(a["key_id"] is not None for a in audit.json()["audit"][-2:])


def test_an_invalid_draft_is_not_saved(live_server, signed_in):
    cookie, csrf = signed_in
    before = call(live_server, cookie, "GET", f"/templates/{TEMPLATE_ID}").json()["versions"]
    reply = call(live_server, cookie, "POST", f"/templates/{TEMPLATE_ID}/versions",
                 {"source": source_of(live_server, cookie).replace('kind = "count"', 'kind = "tally"'),
                  "publish": True}, csrf=csrf)
    assert reply.status == 422
    assert reply.json()["error"]["details"]["errors"][0]["line"] is not None
    assert call(live_server, cookie, "GET", f"/templates/{TEMPLATE_ID}").json()["versions"] == before


def test_the_studio_page_names_no_key(live_server, signed_in, studio_app):
    cookie, _ = signed_in
    page = http("GET", live_server.url + "/studio", headers={"Cookie": cookie.split(";")[0]})
    body = page.body.decode()
    assert studio_app.secret_key not in body and studio_app.write_key not in body and "rcp_s_" not in body
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"



# --- the page, in Chromium ------------------------------------------------------------------------

@pytest.fixture
def desk(browser, request):
    """A desktop page (the studio is laid out for one), closed before the servers stop."""
    servers_before_pages(request)
    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    yield page
    leave(page)
    context.close()


def open_studio(page, server, tenant) -> list[str]:
    """Sign in through the form, as a person does; every URL the page asked for."""
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(server.url + "/studio")
    page.fill("#key", tenant.secret_key)
    page.click("button[type=submit]")
    page.click(f".template[data-id='{TEMPLATE_ID}']")
    page.wait_for_selector(".frame-card[data-frame='intro']")
    page.wait_for_selector("#sample option[value='idle']", state="attached")   # the samples are in
    page.fill("#user-id", "ana")
    page.press("#user-id", "Tab")
    page.wait_for_selector("#player .recap-player[data-index='0']")
    return asked


@pytest.mark.browser
def test_sign_in_then_a_title_changed_in_the_form_plays_in_the_preview(desk, live_server, studio_app):
    asked = open_studio(desk, live_server, studio_app)
    assert desk.url == live_server.url + "/studio"
    assert all(studio_app.secret_key not in url for url in asked)
    assert studio_app.secret_key not in desk.content()
    title = desk.locator(".frame-card[data-frame='intro'] .field input").first
    title.fill("A month worth replaying")
    started = time.monotonic()
    desk.locator("#player .recap-in .recap-title", has_text="A month worth replaying").wait_for(timeout=10_000)
    print(f"form change to preview: {time.monotonic() - started:.2f} s")
    assert "Unsaved changes" in desk.text_content("#status")


@pytest.mark.browser
def test_a_toml_error_is_marked_on_its_line_and_publish_is_refused(desk, live_server, studio_app):
    open_studio(desk, live_server, studio_app)
    desk.click("#tab-toml")
    source = desk.input_value("#source")
    broken = source.replace("duration_ms = 6000", 'duration_ms = "soon"', 1)
    line = broken.splitlines().index('duration_ms = "soon"') + 1
    desk.fill("#source", broken)
    desk.wait_for_selector("#problems:not([hidden])")
    assert desk.text_content("#problem-list .line") == f"line {line}"
    assert desk.text_content("#gutter .marked") == f"{line}\n"
    assert desk.is_disabled("#publish") and desk.is_disabled("#save")


@pytest.mark.browser
def test_the_sample_who_is_not_eligible_sees_the_templates_message(desk, live_server, studio_app):
    open_studio(desk, live_server, studio_app)
    desk.select_option("#sample", "idle")
    desk.wait_for_selector("#not-eligible:not([hidden])")
    assert "Play a song first." in desk.text_content("#not-eligible")
