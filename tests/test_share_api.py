"""POST /v1/shares, DELETE /v1/shares/<id> and the public page, over a real server."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pytest

from helpers.server import basic, http, make_tenant
from helpers.share import NAME, USER, YEAR, bearer, jpeg_bytes, meta_tags, plays, post_json, send, share, viewer_token
from widget_server.store.db import database
from widget_server.store.models import Share

SHARE_KEYS = {"id", "url", "deep_link", "images", "text", "background", "video", "expires_at"}


def test_share_answers_its_links(soundwave, live_server):
    body = share(live_server, soundwave)
    assert set(body) == SHARE_KEYS
    token = body["url"].rsplit("/s/", 1)[1]
    assert body["url"] == f"{live_server.url}/s/{token}"
    assert body["images"] == {kind: f"{body['url']}/{kind}.png" for kind in ("story", "og", "qr", "sticker")}
    assert body["text"] == f"My {YEAR} on Soundwave"  # the user's voice and the app's name
    assert body["background"] == {"top": "#121212", "bottom": "#14321e"}  # the card's gradient ends
    assert body["deep_link"] == f"soundwave://recap/year-in-music?share={token}"
    assert body["expires_at"].endswith("Z")


def test_no_personal_data_in_links_or_token(soundwave, live_server):
    body = share(live_server, soundwave)
    links = [body["id"], body["url"], body["deep_link"], *body["images"].values()]
    token = body["url"].rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    decoded = [payload, base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("latin-1")]
    for text in links + decoded:
        for secret in ("ana", "lima", "example", USER, NAME):
            assert secret not in text.lower(), (secret, text)
    # The payload is exactly the share's random id (128 bits), nothing else.
    assert payload == body["id"] and len(payload) == 22


def test_card_is_frozen_when_shared(soundwave, live_server):
    body = share(live_server, soundwave)
    before = http("GET", body["url"]).body.decode()
    token = viewer_token(live_server, soundwave.secret_key, USER)
    story_before = http("GET", live_server.url + "/v1/stories/year-in-music", None, bearer(token)).json()["card"]

    send(live_server, soundwave.write_key, plays(USER, 60, artist="Caribou", start_day=5))
    story_after = http("GET", live_server.url + "/v1/stories/year-in-music?fresh=1", None, bearer(token)).json()["card"]
    assert story_after["stats"][0] != story_before["stats"][0]  # the live story did change

    after = http("GET", body["url"]).body.decode()
    assert after == before
    assert html.escape(story_before["stats"][0]["value"]) in after
    assert f">{html.escape(story_after['stats'][0]['value'])}<" not in after


def test_page_has_absolute_open_graph_and_twitter_tags(soundwave, live_server):
    body = share(live_server, soundwave)
    reply = http("GET", body["url"])
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    tags = meta_tags(reply.body.decode())
    assert tags["og:url"] == body["url"]
    assert tags["og:image"] == body["images"]["og"] and tags["og:image"].startswith("http://127.0.0.1:")
    assert (tags["og:image:width"], tags["og:image:height"]) == ("1200", "630")
    assert tags["og:type"] == "website" and tags["twitter:card"] == "summary_large_image"
    for key in ("og:title", "og:description", "og:image:alt", "twitter:image"):
        assert tags[key].strip(), key
    assert http("GET", tags["og:image"]).status == 200


def test_public_base_url_is_used_for_every_absolute_link(app, soundwave, live_server):
    app.config["PUBLIC_BASE_URL"] = "https://cards.example.org"
    body = share(live_server, soundwave)
    assert body["url"].startswith("https://cards.example.org/s/")
    assert all(url.startswith("https://cards.example.org/s/") for url in body["images"].values())
    token = body["url"].rsplit("/", 1)[1]
    tags = meta_tags(http("GET", f"{live_server.url}/s/{token}").body.decode())
    assert tags["og:url"] == body["url"] and tags["og:image"] == body["images"]["og"]


def test_page_shows_the_card_and_open_in_app_link(soundwave, live_server):
    body = share(live_server, soundwave, caption="that song when")
    page = http("GET", body["url"]).body.decode()
    token = body["url"].rsplit("/", 1)[1]
    assert f'src="/s/{token}/story.png"' in page
    assert "qr.png" not in page  # the card carries its QR code: one is enough
    assert f'href="{html.escape(body["deep_link"])}"' in page
    assert 'data-fallback="https://soundwave.app"' in page  # web fallback when the app is missing
    assert "that song when" in page


def test_caption_is_text_never_markup(soundwave, live_server):
    body = share(live_server, soundwave, caption='<img src=x onerror="alert(1)">')
    page = http("GET", body["url"]).body.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),          # signature changed
    lambda t: ("B" if t[0] != "B" else "C") + t[1:],             # id changed
    lambda t: t.split(".")[0],                                    # signature removed
    lambda t: "not-a-token",
])
def test_tampered_token_is_not_found(soundwave, live_server, mangle):
    body = share(live_server, soundwave)
    token = body["url"].rsplit("/", 1)[1]
    bad = mangle(token)
    assert http("GET", f"{live_server.url}/s/{bad}").status == 404
    for kind in ("story", "og", "qr"):
        reply = http("GET", f"{live_server.url}/s/{bad}/{kind}.png")
        assert reply.status == 404 and reply.json()["error"]["code"] == "not_found"


def _gone_everywhere(server, body: dict, reason: str) -> None:
    page = http("GET", body["url"])
    assert page.status == 410 and page.headers["Content-Type"].startswith("text/html")
    for url in body["images"].values():
        reply = http("GET", url)
        assert reply.status == 410, url
        assert reply.json()["error"] == {"code": "gone", "message": reply.json()["error"]["message"],
                                         "details": {"reason": reason}, "request_id": reply.headers["X-Request-Id"]}


@pytest.mark.parametrize("who", ["owner", "secret_key"])
def test_revoked_share_is_gone(soundwave, live_server, who):
    body = share(live_server, soundwave)
    for url in body["images"].values():  # rendered and cached before the revocation
        assert http("GET", url).status == 200
    headers = (bearer(viewer_token(live_server, soundwave.secret_key, USER)) if who == "owner"
               else basic(soundwave.secret_key))
    reply = http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", None, headers)
    assert reply.status == 200 and reply.json()["id"] == body["id"]
    _gone_everywhere(live_server, body, "revoked")


def test_revoking_removes_cached_images(app, soundwave, live_server):
    body = share(live_server, soundwave)
    for url in body["images"].values():
        http("GET", url)
    cached = list((Path(app.instance_path) / "share_cache").rglob(f"{body['id']}-*"))
    assert len(cached) == len(body["images"]) == 4
    http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", None, basic(soundwave.secret_key))
    assert not any(path.exists() for path in cached)


@pytest.mark.parametrize("who, status", [("other_user", 404), ("other_app", 404), ("write_key", 401),
                                         ("nobody", 401)])
def test_only_the_owner_or_the_app_may_revoke(soundwave, live_server, who, status):
    body = share(live_server, soundwave)
    other = make_tenant("Other")
    headers = {"other_user": lambda: bearer(viewer_token(live_server, soundwave.secret_key, "ben")),
               "other_app": lambda: basic(other.secret_key),
               "write_key": lambda: basic(soundwave.write_key),
               "nobody": lambda: {}}[who]()
    assert http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", None, headers).status == status
    assert http("GET", body["url"]).status == 200


def test_expired_share_is_gone(app, soundwave, live_server):
    body = share(live_server, soundwave)
    assert http("GET", body["url"]).status == 200
    with database.connection_context():
        expires_at = Share.get_by_id(body["id"]).expires_at
    app.config["SHARE_CLOCK"] = lambda: expires_at  # the moment it expires; no sleeping
    _gone_everywhere(live_server, body, "expired")
    app.config["SHARE_CLOCK"] = lambda: expires_at - 1
    assert http("GET", body["url"]).status == 200


def _someone_elses_upload(server, tenant) -> str:
    token = viewer_token(server, tenant.secret_key, "ben")
    reply = http("POST", server.url + "/v1/uploads", jpeg_bytes(), {"Content-Type": "image/jpeg", **bearer(token)})
    assert reply.status == 201, reply.body
    return reply.json()["id"]


@pytest.mark.parametrize("body, status, code, field", [
    ({"template": "no-such-template"}, 422, "validation_failed", "template"),
    ({"template": "../../etc/passwd"}, 422, "validation_failed", "template"),
    ({}, 422, "validation_failed", "template"),
    ({"template": 7}, 422, "validation_failed", "template"),
    ({"template": "year-in-music", "caption": "x" * 141}, 422, "validation_failed", "caption"),
    ({"template": "year-in-music", "caption": 5}, 422, "validation_failed", "caption"),
    ({"template": "year-in-music", "upload_id": "nope"}, 422, "validation_failed", "upload_id"),
    ({"template": "year-in-music", "upload_id": "<ben's>"}, 422, "validation_failed", "upload_id"),
    ({"template": "year-in-music", "extra": 1}, 422, "validation_failed", "extra"),
])
def test_bad_share_requests_name_the_field(soundwave, live_server, body, status, code, field):
    if body.get("upload_id") == "<ben's>":
        body = {**body, "upload_id": _someone_elses_upload(live_server, soundwave)}
    token = viewer_token(live_server, soundwave.secret_key, USER)
    reply = post_json(live_server, "/v1/shares", body, bearer(token))
    assert reply.status == status, reply.body
    error = reply.json()["error"]
    assert error["code"] == code and field in error["details"], error


@pytest.mark.parametrize("headers, status, code", [
    (lambda t: {}, 401, "unauthorized"),
    (lambda t: basic(t.secret_key), 401, "unauthorized"),
    (lambda t: basic(t.write_key), 401, "unauthorized"),
    (lambda t: bearer("forged.token"), 401, "unauthorized"),
])
def test_sharing_needs_a_viewer_token(soundwave, live_server, headers, status, code):
    reply = post_json(live_server, "/v1/shares", {"template": "year-in-music"}, headers(soundwave))
    assert reply.status == status and reply.json()["error"]["code"] == code


def test_user_without_a_story_cannot_share(soundwave, live_server):
    token = viewer_token(live_server, soundwave.secret_key, "cy")
    reply = post_json(live_server, "/v1/shares", {"template": "year-in-music"}, bearer(token))
    assert reply.status == 404 and reply.json()["error"]["code"] == "not_eligible"


def test_malformed_body_is_refused(soundwave, live_server):
    token = viewer_token(live_server, soundwave.secret_key, USER)
    reply = http("POST", live_server.url + "/v1/shares", b"{nope", {"Content-Type": "application/json",
                                                                      **bearer(token)})
    assert reply.status == 400 and reply.json()["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("path, key", [("/.well-known/assetlinks.json", "android"),
                                       ("/.well-known/apple-app-site-association", "apple")])
def test_app_link_files_come_from_app_settings(app, live_server, path, key):
    assert http("GET", live_server.url + path).status == 404
    settings = {"android": [{"relation": ["delegate_permission/common.handle_all_urls"],
                             "target": {"namespace": "android_app", "package_name": "app.soundwave",
                                        "sha256_cert_fingerprints": ["AB:CD"]}}],
                "apple": {"applinks": {"details": [{"appIDs": ["TEAM.app.soundwave"],
                                                    "components": [{"/": "/s/*"}]}]}}}
    make_tenant("Soundwave", share_base_url="http://127.0.0.1", app_links=settings)
    reply = http("GET", live_server.url + path)
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    assert json.loads(reply.body) == settings[key]


def test_cli_prerenders_live_shares_with_progress(app, soundwave, live_server, runner):
    bodies = [share(live_server, soundwave), share(live_server, soundwave, user="ben")]
    result = runner.invoke(args=["shares", "render", "year-in-music"])
    assert result.exit_code == 0, result.output
    assert "Rendering 2 shares" in result.output and "8 images rendered" in result.output
    for body in bodies:
        reply = http("GET", body["images"]["story"])
        assert reply.status == 200 and "render;" not in reply.headers.get("Server-Timing", "")
    again = runner.invoke(args=["shares", "render", "year-in-music"])
    assert "0 images rendered" in again.output
    assert runner.invoke(args=["shares", "render", "nothing-here"]).output.startswith("No live shares")


@pytest.mark.parametrize("scheme, base", [("javascript", "javascript:alert(1)//"), ("data", "data:text/html,x")])
def test_app_settings_never_become_script_links(app, live_server, scheme, base):
    from helpers.share import plays as listening
    tenant = make_tenant("Odd", deep_link_scheme=scheme, share_base_url=base)
    send(live_server, tenant.write_key, listening("zoe", 20))
    body = share(live_server, tenant, user="zoe")
    assert body["deep_link"] == body["url"]  # neither setting is used
    page = http("GET", body["url"]).body.decode()
    assert "javascript:" not in page and "data:text" not in page


def test_player_on_another_site_may_call_the_share_routes(soundwave, live_server):
    preflight = http("OPTIONS", live_server.url + "/v1/shares", None,
                     {"Origin": "https://soundwave.app", "Access-Control-Request-Method": "POST",
                      "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    body = share(live_server, soundwave)
    image = http("GET", body["images"]["story"], None, {"Origin": "https://soundwave.app"})
    assert image.headers["Access-Control-Allow-Origin"] == "*"
