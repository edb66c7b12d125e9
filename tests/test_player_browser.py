"""The story player in Debian's Chromium at phone size, against the real server.

Previews (``Recap.story(el, {story})``) run on a host page served by a second local server (another
origin than the Recap server's, like a customer's site). Real stories come
from a test template with short durations and events ingested through /v1/batch.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import basic, http

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__pwned=1">'
TEMPLATE = """
id = "{id}"
title = "Your month in music"

[period]
kind = "last_days"
days = 30

[[eligibility]]
metric = "plays"
min = 1
message = "Play a song first."

[metrics.plays]
kind = "count"
event = "Song Played"

[metrics.top_artists]
kind = "top"
event = "Song Played"
property = "artist"
n = 3

[[frames]]
id = "intro"
kind = "text"
title = "Your month in music"
duration_ms = {ms}

[[frames]]
id = "plays"
kind = "stat"
title = "You pressed play"
stat = {{ value = "{{{{ plays | number }}}}", raw = "plays", unit = "times" }}
duration_ms = {ms}

[[frames]]
id = "top-artists"
kind = "list"
title = "Your top artists"
list = {{ metric = "top_artists", limit = 3, value = "{{{{ item.value }}}} plays" }}
duration_ms = {ms}

  [[frames.buttons]]
  id = "play-top"
  label = "Play {{{{ top_artists[0].label }}}}"
  action = "deep_link"
  href = "{{{{ app.deep_link_scheme }}}}://artist/{{{{ top_artists[0].label | urlencode }}}}"

[card]
title = "My month in music"
stats = [{{ label = "Plays", value = "{{{{ plays | number }}}}" }}]
list = {{ title = "Top artists", metric = "top_artists", limit = 3 }}
"""


def preview_story(duration_ms: int = 60_000, media: str | None = None) -> dict:
    """A story object exercising every frame kind the player draws."""
    def frame(fid, kind, title, **extra):
        base = {"id": fid, "kind": kind, "duration_ms": duration_ms, "title": title, "subtitle": None,
                "body": None, "background": None, "stat": None, "items": None, "media": None,
                "chart": None, "buttons": []}
        base.update(extra)
        return base

    frames = [
        frame("intro", "text", "Your 2026 in Music", subtitle="Let's rewind."),
        frame("minutes", "stat", "You listened for",
              stat={"value": "12,345", "raw": 12345, "unit": "minutes", "caption": "206 hours."}),
        frame("top-artists", "list", "Your top artists",
              items=[{"rank": 1, "label": "Björk", "value": "1,234 min", "image": None},
                     {"rank": 2, "label": "Mitski", "value": "998 min", "image": None}]),
        frame("clock", "chart", "Your listening clock",
              chart={"type": "bar", "labels": ["Mon", "Tue", "Wed"], "values": [3, 9, 4],
                     "highlight": 1, "caption": "Plays by weekday"}),
        frame("card", "card", "Share your year",
              buttons=[{"id": "share", "label": "Share", "action": "share", "href": None,
                        "event": None, "properties": None},
                       {"id": "open", "label": "Open app", "action": "deep_link",
                        "href": "soundwave://home", "event": None, "properties": None}]),
    ]
    if media:
        frames[1:1] = [frame(f"photo-{n}", "image", f"Photo {n}",
                             media={"src": f"{media}/media/{n}.png", "alt": f"photo {n}", "poster": None})
                       for n in (1, 2, 3)]
    return {"template": "preview", "title": "Your 2026 in Music", "period": {"label": "2026"},
            "app": {"name": "Soundwave", "deep_link_scheme": "soundwave"},
            "theme": {"background": "#121212", "foreground": "#ffffff", "accent": "#1ed760"},
            "frames": frames,
            "card": {"title": "Ana's 2026", "subtitle": "The Night Owl",
                     "stats": [{"label": "Minutes", "value": "12,345"}],
                     "list": {"title": "Top artists", "items": ["Björk", "Mitski"]},
                     "image": None, "theme": {}, "footer": "soundwave.app"}}


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360f8cfc0f01f0005000201a5f3a1a40000000049454e44ae426082")


class HostSite:
    """A customer's web site: another origin (its own port on 127.0.0.1) that embeds the player."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                site.requests.append(self.path)
                content_type, body = site.pages.get(self.path.split("?")[0], ("text/plain", b"not found"))
                self.send_response(200 if self.path.split("?")[0] in site.pages else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="host-site", daemon=True)
        self._thread.start()

    def page(self, path: str, html: str) -> str:
        self.pages[path] = ("text/html; charset=utf-8", html.encode())
        return self.url + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def site():
    host = HostSite()
    for n in (1, 2, 3):
        host.pages[f"/media/{n}.png"] = ("image/png", PNG)
    yield host
    host.stop()


def player_page(server, body: str = "") -> str:
    return ("<!doctype html><html><head><meta name=viewport content='width=device-width'></head>"
            "<body style='margin:0'><div id='mount' style='height:100vh'></div>"
            f"<script src='{server.url}/widget/player.js'></script>{body}</body></html>")


def mount_preview(page, live_server, site, story: dict) -> None:
    page.goto(site.page("/", player_page(live_server)))
    page.evaluate("s => { window.player = Recap.story('#mount', {story: s}); }", story)
    page.wait_for_selector(".recap-player[data-index='0']")


def index(page) -> int:
    return int(page.get_attribute(".recap-player", "data-index"))


def state(page) -> str:
    return page.get_attribute(".recap-player", "data-state")


def wait_index(page, value: int) -> None:
    page.wait_for_selector(f".recap-player[data-index='{value}']", timeout=5000)


def fill(page, i: int) -> float:
    """How far the i-th progress segment is filled (0–1), from its transform."""
    return page.evaluate(
        "i => new DOMMatrix(getComputedStyle(document.querySelectorAll('.recap-seg-fill')[i]).transform).a", i)


# --- real stories ------------------------------------------------------------------------------

def write_template(app, tenant, template_id: str, ms: int) -> None:
    folder = Path(app.instance_path) / "templates" / str(tenant.app_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{template_id}.toml").write_text(TEMPLATE.format(id=template_id, ms=ms))


def ingest_plays(server, tenant, user: str, artists: list[str]) -> None:
    batch = [{"type": "track", "event": "Song Played", "userId": user,
              "properties": {"artist": a, "song": f"Song {i}", "ms_played": 180_000}}
             for i, a in enumerate(artists)]
    reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": batch}).encode(),
                 {"Content-Type": "application/json", **basic(tenant.write_key)})
    assert reply.status == 200, reply.body


def viewer_token(server, tenant, user: str) -> str:
    reply = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": user}).encode(),
                 {"Content-Type": "application/json", **basic(tenant.secret_key)})
    assert reply.status == 201, reply.body
    return reply.json()["token"]


@pytest.fixture
def music(app, live_server, site):
    """An app with a deep-link scheme, two test templates (slow and quick) and a listener, ana."""
    from conftest import make_tenant

    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave", frame_ancestors=site.url)
    write_template(app, tenant, "player-test", 60_000)
    write_template(app, tenant, "player-quick", 1_000)
    ingest_plays(live_server, tenant, "ana", ["Björk", "Björk", "Mitski", XSS])
    return tenant


def wait_rows(query, sql: str, *params, count: int, timeout: float = 8.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        rows = query(sql, *params)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


ENGAGEMENT_SQL = ("SELECT name, user_id, json_extract(properties, '$.frame_id'), "
                  "json_extract(properties, '$.advance'), json_extract(properties, '$.index') "
                  "FROM event WHERE app_id = ? AND (name LIKE 'story_%' OR name IN ('frame_viewed', 'button_clicked')) "
                  "ORDER BY id")


# --- interactions ------------------------------------------------------------------------------

def test_tap_and_keys_move_forward_and_back(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    assert phone.locator(".recap-seg").count() == 5
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 1)
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 2)
    phone.touchscreen.tap(60, 420)          # left third goes back
    wait_index(phone, 1)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 2)
    phone.keyboard.press("ArrowLeft")
    wait_index(phone, 1)
    phone.keyboard.press("End")
    wait_index(phone, 4)
    phone.keyboard.press("Home")
    wait_index(phone, 0)
    assert fill(phone, 1) == 0 and fill(phone, 4) == 0


def test_swipe_moves_between_frames(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    for start, end, expected in [(320, 80, 1), (320, 80, 2), (80, 320, 1)]:
        phone.mouse.move(start, 500)
        phone.mouse.down()
        phone.mouse.move((start + end) / 2, 505, steps=3)
        phone.mouse.move(end, 510, steps=3)
        phone.mouse.up()
        wait_index(phone, expected)


def test_hold_pauses_and_release_resumes_without_moving(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story(duration_ms=4_000))
    phone.mouse.move(300, 420)
    phone.mouse.down()
    phone.wait_for_selector(".recap-player[data-state='paused']")
    held_at = fill(phone, 0)
    phone.wait_for_timeout(700)
    assert fill(phone, 0) == pytest.approx(held_at, abs=0.01)   # the clock stands still
    phone.mouse.up()
    assert state(phone) == "playing" and index(phone) == 0      # release does not navigate
    phone.wait_for_timeout(500)
    assert fill(phone, 0) > held_at + 0.05


def test_space_pauses_and_hidden_page_pauses(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press(" ")
    assert state(phone) == "paused"
    assert phone.get_attribute(".recap-pause", "aria-label") == "Play story"
    phone.keyboard.press(" ")
    assert state(phone) == "playing"
    phone.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
                   "document.dispatchEvent(new Event('visibilitychange'))")
    assert state(phone) == "paused"
    phone.evaluate("Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
                   "document.dispatchEvent(new Event('visibilitychange'))")
    assert state(phone) == "playing"


def test_only_the_next_frames_media_is_preloaded(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story(media=site.url))
    phone.wait_for_timeout(300)
    media = lambda: sorted({u.rsplit("/", 1)[1] for u in site.requests if "/media/" in u})  # noqa: E731
    assert media() == ["1.png"]
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    phone.wait_for_timeout(300)
    assert media() == ["1.png", "2.png"]
    assert phone.get_attribute(".recap-img", "alt") == "photo 1"


def test_share_without_web_share_copies_the_link_and_pauses(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("End")
    wait_index(phone, 4)
    phone.evaluate("delete Navigator.prototype.share")
    phone.click("button[data-button-id='share']")
    dialog = phone.locator(".recap-dialog")
    dialog.wait_for()
    assert state(phone) == "paused"
    assert dialog.locator("input").input_value().startswith(site.url)
    dialog.locator("button").click()
    assert phone.locator(".recap-overlay").is_hidden()


def test_markup_in_story_strings_renders_as_text(phone, live_server, site):
    story = preview_story()
    story["title"] = XSS
    story["frames"][0]["title"] = XSS
    story["frames"][2]["items"][0]["label"] = XSS
    story["frames"][3]["chart"]["labels"][1] = XSS
    story["frames"][4]["buttons"][0]["label"] = XSS
    story["card"]["list"]["items"][0] = XSS
    dialogs: list[str] = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    mount_preview(phone, live_server, site, story)
    assert phone.text_content(".recap-title") == XSS
    for _ in range(4):
        phone.keyboard.press("ArrowRight")
        phone.wait_for_timeout(150)
    wait_index(phone, 4)
    assert phone.text_content("button[data-button-id='share']") == XSS
    assert phone.locator(".recap-card-list li").first.text_content() == XSS
    assert phone.locator("img[src='x']").count() == 0
    assert phone.evaluate("window.__pwned") is None and dialogs == []


# --- real stories through /embed -----------------------------------------------------------------

def test_embed_auto_advances_to_the_end_and_stores_engagement(phone, live_server, music, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-quick?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    assert "token" not in phone.url                      # moved out of the visible URL
    phone.wait_for_selector(".recap-player[data-state='ended']", timeout=15_000)
    assert index(phone) == 3 and fill(phone, 3) == 1
    phone.keyboard.press("Escape")
    rows = wait_rows(query, ENGAGEMENT_SQL, music.app_id, count=7)
    names = [r[0] for r in rows]
    assert names[0] == "story_viewed" and names[-1] == "story_closed"
    assert {r[1] for r in rows} == {"ana"}
    frames = [(r[2], r[3], r[4]) for r in rows if r[0] == "frame_viewed"]
    assert frames == [("intro", "auto", 0), ("plays", "auto", 1), ("top-artists", "auto", 2),
                      ("card", "manual", 3)]
    assert "story_completed" in names
    progress = query("SELECT json_extract(properties, '$.progress'), json_extract(properties, '$.template') "
                     "FROM event WHERE name = 'story_closed'")
    assert progress == [(1, "player-quick")]


def test_engagement_events_name_frames_pauses_and_buttons(phone, live_server, music, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 1)
    phone.mouse.move(300, 420)
    phone.mouse.down()
    phone.wait_for_selector(".recap-player[data-state='paused']")
    phone.mouse.up()
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 2)
    assert phone.locator(".recap-item-label", has_text=XSS).count() == 1   # an event property, as text
    phone.click("button[data-button-id='play-top']")
    phone.keyboard.press("ArrowLeft")
    wait_index(phone, 1)
    phone.evaluate("RecapPlayer.flush()")
    rows = wait_rows(query, ENGAGEMENT_SQL, music.app_id, count=6)
    got = [(r[0], r[2]) for r in rows]
    assert got[:5] == [("story_viewed", None), ("frame_viewed", "intro"), ("story_paused", "plays"),
                       ("frame_viewed", "plays"), ("button_clicked", "top-artists")]
    assert ("frame_viewed", "top-artists") in got
    assert query("SELECT json_extract(properties, '$.action'), json_extract(properties, '$.button_id') "
                 "FROM event WHERE name = 'button_clicked'") == [("deep_link", "play-top")]
    assert {r[1] for r in rows} == {"ana"}


def host_page(frame_url: str) -> str:
    return ("<script>window.messages = [];"
            "addEventListener('message', e => window.messages.push(e.data));</script>"
            f"<iframe src='{frame_url}' style='width:390px;height:800px;border:0' "
            "allow='web-share; clipboard-write'></iframe>")


def test_deep_link_button_posts_to_the_host_page(phone, live_server, music, site):
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/app", host_page(f"{live_server.url}/embed/player-test?token={token}")))
    frame = phone.frame_locator("iframe")
    frame.locator(".recap-player[data-index='0']").wait_for()
    frame.locator(".recap-next").click()
    frame.locator(".recap-player[data-index='1']").wait_for()
    frame.locator(".recap-next").click()
    frame.locator("button[data-button-id='play-top']").click()
    phone.wait_for_function("window.messages.some(m => m.type === 'deep_link')")
    messages = phone.evaluate("window.messages")
    assert messages[0] == {"source": "recap", "type": "ready", "template": "player-test"}
    assert {"source": "recap", "type": "deep_link", "href": "soundwave://artist/Bj%C3%B6rk"} in messages
    frame.locator(".recap-close").click()
    phone.wait_for_function("window.messages.some(m => m.type === 'close')")


def test_embed_refuses_hosts_outside_frame_ancestors(phone, live_server, music):
    token = viewer_token(live_server, music, "ana")
    other = HostSite()  # same page, but an origin the app did not list
    try:
        phone.goto(other.page("/app", host_page(f"{live_server.url}/embed/player-test?token={token}")))
        phone.wait_for_timeout(1500)
        assert phone.evaluate("window.messages") == []
    finally:
        other.stop()


@pytest.mark.parametrize("kind, heading", [("invalid", "This story link doesn’t work"),
                                           ("expired", "This story link has expired")])
def test_bad_token_shows_a_message_with_retry(phone, live_server, music, query, kind, heading):
    token = viewer_token(live_server, music, "ana")
    if kind == "invalid":
        token = token[:-4] + "AAAA"
    else:
        query("UPDATE viewer_grant SET expires_at = 0")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    alert = phone.locator("[role='alert']")
    alert.wait_for()
    assert alert.locator("h2").text_content() == heading
    assert phone.evaluate("document.activeElement.textContent") == "Try again"


def test_network_error_then_retry_loads_the_story(phone, live_server, music):
    token = viewer_token(live_server, music, "ana")
    failures = []

    def flaky(route):
        if not failures:
            failures.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    phone.route("**/v1/stories/**", flaky)
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.locator("[role='alert'][data-error='network']").wait_for()
    phone.get_by_role("button", name="Try again").click()
    phone.wait_for_selector(".recap-player[data-index='0']")
    assert phone.text_content(".recap-title") == "Your month in music"


# --- accessibility -------------------------------------------------------------------------------

def test_screen_reader_labels_and_live_region(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    player = phone.locator(".recap-player")
    assert player.get_attribute("role") == "region" and player.get_attribute("aria-roledescription") == "story"
    assert phone.get_by_role("button", name="Next frame").count() == 1
    assert phone.get_by_role("button", name="Close story").count() == 1
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    assert phone.text_content(".recap-live") == "Frame 2 of 5. You listened for"
    assert phone.get_attribute(".recap-frame:last-child", "aria-label") == "2 of 5: You listened for"
    phone.keyboard.press("ArrowRight")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 3)
    assert "Tue: 9" in phone.get_attribute(".recap-frame:last-child svg", "aria-label")


def test_keyboard_focus_is_visible(phone, live_server, site):
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("Tab")
    focused = phone.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                             " return [document.activeElement.getAttribute('aria-label'), s.outlineStyle, s.outlineWidth]; })()")
    assert focused == ["Previous frame", "solid", "3px"]


def test_reduced_motion_shows_final_numbers_without_animation(phone, live_server, site):
    phone.emulate_media(reduced_motion="reduce")
    mount_preview(phone, live_server, site, preview_story())
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    assert phone.text_content(".recap-frame:last-child .recap-stat-value") == "12,345"   # no count-up
    duration = phone.evaluate("getComputedStyle(document.querySelector('.recap-frame')).transitionDuration")
    assert all(float(d.rstrip("s")) <= 0.001 for d in duration.split(","))


def test_leaving_the_page_sends_engagement_by_beacon(phone, live_server, music, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    phone.goto("about:blank")   # pagehide: only sendBeacon (token in the body) gets out
    rows = wait_rows(query, "SELECT user_id, json_extract(properties, '$.how'), json_extract(properties, '$.progress') "
                     "FROM event WHERE name = 'story_closed'", count=1)
    assert len(rows) == 1 and rows[0][:2] == ("ana", "page_hidden") and 0.25 <= rows[0][2] < 0.5


# --- sharing -------------------------------------------------------------------------------------

def wait_js(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS condition with evaluate: wait_for_function needs eval, which the embed CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


IOS_HANDLER = ("window.sent = []; window.webkit = {messageHandlers: {recap: {"
               "postMessage: m => window.sent.push(JSON.parse(JSON.stringify(m)))}}};")


def test_native_webview_share_and_close_go_to_the_host(phone, live_server, music, query):
    # The one thing that cannot run here is iOS itself: its message handler is stood in for.
    phone.add_init_script(IOS_HANDLER)
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("End")
    wait_index(phone, 3)
    phone.click(".recap-frame:last-child .recap-btn")          # the card's default share button
    wait_js(phone, "window.sent.some(m => m.type === 'share')")
    share = next(m for m in phone.evaluate("window.sent") if m["type"] == "share")
    assert "/s/" in share["url"] and share["image"].endswith("/story.png")
    assert share["title"] == "Your month in music"
    assert http("GET", share["image"]).status == 200          # the card file the host will share
    phone.keyboard.press("Escape")
    wait_js(phone, "window.sent.some(m => m.type === 'close')")
    rows = wait_rows(query, "SELECT json_extract(properties, '$.channel') FROM event WHERE name = 'story_shared'",
                     count=1)
    assert rows == [("host",)]


def test_browser_share_falls_back_to_copying_the_share_link(phone, live_server, music, query):
    phone.add_init_script("delete Navigator.prototype.share")
    token = viewer_token(live_server, music, "ana")
    phone.goto(f"{live_server.url}/embed/player-test?token={token}")
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("End")
    wait_index(phone, 3)
    phone.click(".recap-frame:last-child .recap-btn")
    dialog = phone.locator(".recap-dialog")
    dialog.wait_for(timeout=15_000)
    assert "/s/" in dialog.locator("input").input_value()
    assert state(phone) == "paused"
    dialog.get_by_role("button", name="Done").click()
    phone.evaluate("RecapPlayer.flush()")
    rows = wait_rows(query, "SELECT json_extract(properties, '$.channel') FROM event WHERE name = 'story_shared'",
                     count=1)
    assert rows in ([("clipboard",)], [("link",)])


# --- video ---------------------------------------------------------------------------------------

RECORD_VIDEO = """async () => {
  const canvas = Object.assign(document.createElement('canvas'), {width: 64, height: 64});
  const ctx = canvas.getContext('2d');
  const recorder = new MediaRecorder(canvas.captureStream(25), {mimeType: 'video/webm'});
  const chunks = [];
  recorder.ondataavailable = e => chunks.push(e.data);
  let hue = 0;
  const paint = setInterval(() => { ctx.fillStyle = `hsl(${hue += 15}, 80%, 50%)`; ctx.fillRect(0, 0, 64, 64); }, 40);
  recorder.start();
  await new Promise(r => setTimeout(r, 1500));
  const stopped = new Promise(r => recorder.onstop = r);
  recorder.stop();
  await stopped;
  clearInterval(paint);
  return URL.createObjectURL(new Blob(chunks, {type: 'video/webm'}));
}"""


def test_video_frame_plays_muted_inline_and_advances_at_its_end(phone, live_server, site):
    phone.goto(site.page("/", player_page(live_server)))
    src = phone.evaluate(RECORD_VIDEO)             # a 1.5 s clip made in the page: no codec tools needed
    story = preview_story()
    story["frames"][1] = {**story["frames"][1], "id": "clip", "kind": "video", "duration_ms": None,
                          "stat": None, "title": "Your year in motion",
                          "media": {"src": src, "alt": "A colourful clip", "poster": None}}
    phone.evaluate("s => { window.player = Recap.story('#mount', {story: s}); }", story)
    phone.wait_for_selector(".recap-player[data-index='0']")
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 1)
    video = phone.locator(".recap-video")
    assert video.evaluate("v => [v.muted, v.playsInline, v.getAttribute('aria-label')]") == \
        [True, True, "A colourful clip"]
    phone.wait_for_function("document.querySelector('.recap-video').currentTime > 0.2")
    phone.get_by_role("button", name="Tap for sound").click()
    assert video.evaluate("v => v.muted") is False
    assert phone.get_attribute(".recap-mute", "aria-label") == "Turn sound off"
    phone.keyboard.press(" ")
    assert video.evaluate("v => v.paused") is True     # pausing the story pauses the video
    phone.keyboard.press(" ")
    started = time.monotonic()
    wait_index(phone, 2)                               # its own end, not the 6 s default
    assert time.monotonic() - started < 4


def test_player_mounted_on_another_site_loads_the_users_story(phone, live_server, music, site, query):
    token = viewer_token(live_server, music, "ana")
    phone.goto(site.page("/", player_page(live_server)))
    phone.evaluate("([token, host]) => { window.player = Recap.story('#mount', "
                   "{token, template: 'player-test', host, onClose: p => window.closedWith = p}); }",
                   [token, live_server.url])
    phone.wait_for_selector(".recap-player[data-index='0']")
    assert phone.text_content(".recap-title") == "Your month in music"
    phone.keyboard.press("Escape")
    phone.wait_for_function("window.closedWith && window.closedWith.progress >= 0")
    rows = wait_rows(query, "SELECT name, user_id FROM event WHERE name IN ('story_viewed', 'story_closed') "
                     "ORDER BY id", count=2)
    assert rows == [("story_viewed", "ana"), ("story_closed", "ana")]
