"""Shared pieces of the player's browser tests: stories, a host web site, a test template."""
from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from demo_app.serving import ServedInThread
from helpers.browser import leave, servers_before_pages
from helpers.server import basic, http
from helpers.story import app_template

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
duration_ms = {ms}
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


class HostSite(ServedInThread):
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

        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "host-site")
        self.start()

    def page(self, path: str, html: str) -> str:
        self.pages[path] = ("text/html; charset=utf-8", html.encode())
        return self.url + path


@pytest.fixture
def site():
    host = HostSite()
    for n in (1, 2, 3):
        host.pages[f"/media/{n}.png"] = ("image/png", PNG)
    yield host
    host.stop()


@pytest.fixture
def desktop(browser, request):
    """A desktop browser window (1440×900, a mouse, no touch): the player is a centred phone in it."""
    servers_before_pages(request)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    yield page
    leave(page)
    context.close()


def player_page(server, body: str = "") -> str:
    return ("<!doctype html><html><head><meta name=viewport content='width=device-width'></head>"
            "<body style='margin:0'><div id='mount' style='height:100vh'></div>"
            f"<script src='{server.url}/widget/player.js'></script>{body}</body></html>")


def mount_preview(page, live_server, site, story: dict, options: str = "") -> None:
    """The story previewed on the host site; ``options`` is more of the options object, as JS."""
    page.goto(site.page("/", player_page(live_server)))
    page.evaluate(f"s => {{ window.player = Recap.story('#mount', {{story: s, {options}}}); }}", story)
    page.wait_for_selector(".recap-player[data-index='0']")
    page.wait_for_function("document.querySelector('link[data-recap-player]').sheet")  # styled, as a viewer sees it


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


def write_template(app, tenant, template_id: str, ms: int) -> None:
    app_template(app.instance_path, tenant.app_id, template_id, TEMPLATE.format(id=template_id, ms=ms))


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
    from helpers.server import make_tenant

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


def host_page(frame_url: str) -> str:
    return ("<script>window.messages = [];"
            "addEventListener('message', e => window.messages.push(e.data));</script>"
            f"<iframe src='{frame_url}' style='width:390px;height:800px;border:0' "
            "allow='web-share; clipboard-write'></iframe>")


def wait_js(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS condition with evaluate: wait_for_function needs eval, which the embed CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


IOS_HANDLER = ("window.sent = []; window.webkit = {messageHandlers: {recap: {"
               "postMessage: m => window.sent.push(JSON.parse(JSON.stringify(m)))}}};")


RECORD_VIDEO = """async () => {
  const canvas = Object.assign(document.createElement('canvas'), {width: 64, height: 64});
  const ctx = canvas.getContext('2d');
  const recorder = new MediaRecorder(canvas.captureStream(25), {mimeType: 'video/webm'});
  const chunks = [];
  recorder.ondataavailable = e => chunks.push(e.data);
  let hue = 0;
  const paint = setInterval(() => { ctx.fillStyle = `hsl(${hue += 15}, 80%, 50%)`; ctx.fillRect(0, 0, 64, 64); }, 40);
  recorder.start();
  await new Promise(r => setTimeout(r, 2500));
  const stopped = new Promise(r => recorder.onstop = r);
  recorder.stop();
  await stopped;
  clearInterval(paint);
  return URL.createObjectURL(new Blob(chunks, {type: 'video/webm'}));
}"""


class Finger:
    """One finger on a touch screen, as Chromium's DevTools protocol puts it down, moves and lifts
    it: Playwright's touchscreen can only tap, and a swipe or a hold needs a finger that stays."""

    def __init__(self, page) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.at = (0.0, 0.0)

    def down(self, x: float, y: float) -> None:
        self.at = (x, y)
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})

    def move(self, x: float, y: float, steps: int = 8) -> None:
        (x0, y0) = self.at
        for n in range(1, steps + 1):
            point = {"x": x0 + (x - x0) * n / steps, "y": y0 + (y - y0) * n / steps}
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
            self.page.wait_for_timeout(16)   # a finger's pace: one move a display frame
        self.at = (x, y)

    def up(self) -> None:
        self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def frames_on_stage(page) -> list[list[str]]:
    """Every frame element on the stage: its id and whether it is on its way out."""
    return page.evaluate("[...document.querySelectorAll('.recap-stage > .recap-frame')]"
                         ".map(f => [f.dataset.frameId, f.classList.contains('recap-leaving') ? 'leaving' : 'shown'])")
