"""recap.js, the browser SDK, in Debian's Chromium against the real server.

The host page is served by a second local server (another origin, like a customer's site) and
loads recap.js from the Recap server's ``/sdk/recap.js``; events are read back from the database.
"""
from __future__ import annotations

import configparser
import fnmatch
import gzip
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from demo_app.serving import ServedInThread
from helpers.browser import leave, servers_before_pages
from helpers.server import http

ROOT = Path(__file__).resolve().parent.parent
RECAP_JS = ROOT / "sdk" / "js" / "recap.js"
GZIP_BUDGET = 8 * 1024  # as served (gzip -9 of the minified build); see docs/JS.md
SECRET = "typed-s3cret-value"

# Nothing leaves by timer in these pages unless a test says so: what is stored is what the
# test's own action (flush, page hide, close) sent.
QUIET = "flushAt: 1000, flushInterval: 600000"


class HostSite(ServedInThread):
    """A customer's site on its own port: every path answers the same page (an SPA shell)."""

    def __init__(self, html: str):
        body = html.encode()
        cookies = self.cookies = []  # the Cookie header of each page request

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/favicon.ico":
                    self.send_response(404)
                    self.end_headers()
                    return
                cookies.append(self.headers.get("Cookie"))
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler), "host-site")
        self.start()


@pytest.fixture
def site(live_server, tenant):
    """Start host sites on demand: ``site(body_html, init=...)``; all are stopped after the test."""
    started: list[HostSite] = []

    def start(body: str = "", init: str | None = QUIET, head: str = "", html: str | None = None) -> HostSite:
        """``html`` is a whole page, served as it is."""
        src = f"{live_server.url}/sdk/recap.js"
        if init is None:  # the snippet alone
            loader = (f'<script src="{src}" data-write-key="{tenant.write_key}" '
                      f'data-host="{live_server.url}" defer></script>')
        else:  # Recap.init() with extra options (a JS object literal's inside)
            loader = (f'<script src="{src}"></script><script>Recap.init({{writeKey: "{tenant.write_key}", '
                      f'host: "{live_server.url}", {init}}});</script>')
        if html is None:
            html = (f"<!doctype html><html><head><title>Home page</title>{head}{loader}</head>"
                    f"<body>{body}</body></html>")
        host = HostSite(html)
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop()


@pytest.fixture
def arrivals(app) -> list[tuple[str, str, str]]:
    """(path, Content-Type, Sec-Fetch-Mode) of every ingest request the server receives.

    A beacon with a text/plain body is a "no-cors" request; recap.js's own fetch is "cors", so the
    server can tell which path a batch took even after the page that sent it is gone.
    """
    seen: list[tuple[str, str, str]] = []

    @app.before_request
    def record() -> None:
        from flask import request
        if request.path.startswith("/v1/"):
            seen.append((request.path, request.headers.get("Content-Type", ""),
                         request.headers.get("Sec-Fetch-Mode", "")))
    return seen


@pytest.fixture
def page(browser, request):
    """A desktop page that fails the test on any uncaught script error; closed before the
    test's servers stop."""
    servers_before_pages(request)
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    leave(page)
    context.close()
    assert not errors, errors


# Only what the test itself tracks, and nothing leaves by timer.
ONLY_TRACKED = QUIET + ", capturePageViews: false, captureClicks: false, capturePageLeave: false"
HIDE = """
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  document.dispatchEvent(new Event('visibilitychange'));
"""


def console_warnings(page) -> list[str]:
    """The page's console warnings, as they come."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if m.type == "warning" else None)
    return seen


def events(query, app_id: int) -> list[dict]:
    rows = query("SELECT type, name, user_id, anonymous_id, properties, context FROM event "
                 "WHERE app_id = ? ORDER BY id", app_id)
    return [{"type": t, "name": n, "user_id": u, "anonymous_id": a,
             "properties": json.loads(p) if p else {}, "context": json.loads(c) if c else {}}
            for t, n, u, a, p, c in rows]


def wait_for(check, timeout: float = 15.0, page=None):
    """Poll until ``check()`` is truthy; return its value.

    With ``page``, wait through Playwright so its route handlers keep running meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the events")
        page.wait_for_timeout(100) if page else time.sleep(0.1)


def stored(query, app_id: int, predicate, count: int = 1, page=None) -> list[dict]:
    """Wait until at least ``count`` stored events match ``predicate``; return them."""
    return wait_for(lambda: (lambda m: m if len(m) >= count else None)(
        [e for e in events(query, app_id) if predicate(e)]), page=page)


# ---- serving the file ------------------------------------------------------------------------

def test_recap_js_is_served_with_js_type_etag_and_cache_headers(live_server):
    url = f"{live_server.url}/sdk/recap.js"
    reply = http("GET", url)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "max-age=3600" in reply.headers["Cache-Control"]
    assert reply.headers["Cache-Control"].startswith("public")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.body == RECAP_JS.read_bytes()
    etag = reply.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10

    again = http("GET", url, headers={"If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    assert again.headers["ETag"] == etag

    zipped = http("GET", url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body) == RECAP_JS.read_bytes()
    assert zipped.headers["ETag"] != etag  # other bytes, other tag
    assert http("GET", url, headers={"Accept-Encoding": "gzip",
                                     "If-None-Match": zipped.headers["ETag"]}).status == 304

    head = http("HEAD", url)
    assert head.status == 200 and head.body == b""


@pytest.mark.parametrize("if_none_match", ['"stale"', '"' + "0" * 20 + '"', "W/\"x\""])
def test_a_stale_etag_gets_the_whole_file(live_server, if_none_match):
    reply = http("GET", f"{live_server.url}/sdk/recap.js", headers={"If-None-Match": if_none_match})
    assert reply.status == 200 and reply.body == RECAP_JS.read_bytes()


def test_recap_js_ships_as_package_data():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["sdk"].split(",")]
    assert any(fnmatch.fnmatch("js/recap.js", p) for p in patterns)


def test_recap_js_stays_small():
    size = len(gzip.compress(RECAP_JS.read_bytes(), compresslevel=9))
    assert size < GZIP_BUDGET, f"recap.js is {size} bytes gzipped; the budget is {GZIP_BUDGET}"


# ---- in the browser --------------------------------------------------------------------------

@pytest.mark.browser
def test_snippet_records_page_views_including_spa_navigation(page, site, query, tenant):
    host = site("<h1>Shop</h1>", init=None)  # the plain snippet, as docs/JS.md shows it
    page.goto(host.url + "/")
    page.wait_for_function("window.Recap && Recap.anonymousId()")
    page.evaluate("history.pushState({}, '', '/app/settings?tab=2#section')")
    page.evaluate("history.replaceState({}, '', '/app/settings?tab=2#other')")  # same page: no view
    page.evaluate("history.replaceState({}, '', '/app/profile')")  # a router's redirect: a view
    page.evaluate("history.back()")
    page.wait_for_function("location.pathname === '/'")
    page.evaluate("Recap.flush()")

    views = stored(query, tenant.app_id, lambda e: e["type"] == "page", count=4)
    assert [v["properties"]["path"] for v in views] == ["/", "/app/settings", "/app/profile", "/"]
    assert views[1]["properties"]["url"] == host.url + "/app/settings?tab=2"  # no fragment
    assert views[1]["properties"]["search"] == "?tab=2"
    assert views[1]["properties"]["referrer"] == host.url + "/"
    assert views[2]["properties"]["referrer"] == host.url + "/app/settings?tab=2"
    assert views[3]["properties"]["referrer"] == host.url + "/app/profile"
    assert len({v["anonymous_id"] for v in views}) == 1 and views[0]["user_id"] is None

    context = views[0]["context"]
    assert context["library"]["name"] == "recap.js"
    assert context["page"]["title"] == "Home page"
    assert context["page"]["url"] == host.url + "/"
    assert context["timezone"] == page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert context["locale"] and context["userAgent"].startswith("Mozilla/")
    assert context["screen"]["width"] > 0

    left = stored(query, tenant.app_id, lambda e: e["name"] == "page_left", count=3)
    assert [e["properties"]["path"] for e in left] == ["/", "/app/settings", "/app/profile"]
    assert all(e["properties"]["reason"] == "navigate" for e in left)
    assert all(isinstance(e["properties"]["duration_ms"], int) for e in left)


@pytest.mark.browser
def test_clicks_record_tag_text_and_selector_but_never_what_was_typed(page, site, query, tenant):
    host = site(f"""
      <nav class="top bar"><a id="pricing" href="/pricing?coupon=personal#x"
         onclick="event.preventDefault()">See   <b>pricing</b></a></nav>
      <main>
        <button class="cta primary">  Start free
           trial </button>
        <div data-recap-event="plan_chosen" data-recap-prop-plan-name="pro">
          Choose Pro <input id="email" value="prefilled"> <textarea>{SECRET}-default</textarea>
        </div>
        <label>Password <input id="pw" type="password"></label>
        <input type="submit" value="Send {SECRET}" onclick="event.preventDefault()">
        <p data-recap-ignore><button>Not recorded</button></p>
        <p>plain text is not clickable</p>
      </main>""")
    page.goto(host.url + "/")
    page.fill("#email", SECRET)
    page.fill("#pw", SECRET)
    page.fill("textarea", SECRET)
    page.click("#pricing")
    page.click("button.cta")
    page.click("[data-recap-event]")
    page.click("#email")
    page.click("input[type=submit]")
    page.click("text=Not recorded")
    page.click("text=plain text is not clickable")
    page.evaluate("Recap.flush()")

    clicks = stored(query, tenant.app_id, lambda e: e["type"] == "track" and e["name"] != "page_left",
                    count=4)
    time.sleep(0.5)  # let any wrongly recorded click arrive too, so the count below can fail
    clicks = [e for e in events(query, tenant.app_id) if e["type"] == "track" and e["name"] != "page_left"]
    by_tag = {e["properties"]["tag"]: e for e in clicks}
    assert len(clicks) == 4, clicks

    link = by_tag["a"]
    assert link["name"] == "element_clicked"
    assert link["properties"]["text"] == "See pricing"
    assert link["properties"]["selector"] == "#pricing"
    assert link["properties"]["href"] == host.url + "/pricing"  # no query, no fragment

    button = by_tag["button"]
    assert button["properties"]["text"] == "Start free trial"
    assert button["properties"]["selector"] == "main > button.cta.primary"

    custom = by_tag["div"]
    assert custom["name"] == "plan_chosen"
    assert custom["properties"]["text"] == "Choose Pro"
    assert custom["properties"]["planName"] == "pro"
    assert custom["properties"]["selector"] == "main > div"

    submit = by_tag["input"]
    assert "text" not in submit["properties"]

    everything = json.dumps(query("SELECT * FROM event"))
    assert SECRET not in everything
    assert "prefilled" not in everything


@pytest.mark.browser
def test_page_hide_sends_the_queue_by_beacon_as_text_plain(page, site, query, tenant):
    # Count the calls, and let them through to the real server.
    page.add_init_script("""
      window.__sent = {beacon: [], fetch: 0};
      const beacon = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => { window.__sent.beacon.push(data.type); return beacon(url, data); };
      const fetch = window.fetch.bind(window);
      window.fetch = (...args) => { window.__sent.fetch++; return fetch(...args); };
    """)
    host = site("<button>Buy</button>")
    page.goto(host.url + "/")
    page.evaluate("Recap.track('cart_viewed', {items: 3})")
    page.click("text=Buy")
    assert page.evaluate("window.__sent") == {"beacon": [], "fetch": 0}

    page.evaluate("""
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
      document.dispatchEvent(new Event('visibilitychange'));
    """)
    assert page.evaluate("window.__sent") == {"beacon": ["text/plain"], "fetch": 0}

    names = [e["name"] for e in stored(query, tenant.app_id, lambda e: e["name"] == "page_left")]
    assert names == ["page_left"]
    stored_names = [e["name"] or e["type"] for e in events(query, tenant.app_id)]
    assert stored_names == ["page", "cart_viewed", "element_clicked", "page_left"]
    left = events(query, tenant.app_id)[-1]
    assert left["properties"]["reason"] == "hidden" and left["properties"]["path"] == "/"

    # Back to visible and hidden again: a second stretch of visible time, a second beacon.
    page.evaluate("""
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
      document.dispatchEvent(new Event('visibilitychange'));
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
      document.dispatchEvent(new Event('visibilitychange'));
    """)
    assert len(stored(query, tenant.app_id, lambda e: e["name"] == "page_left", count=2)) == 2
    assert page.evaluate("window.__sent.fetch") == 0


@pytest.mark.browser
def test_events_queued_when_the_page_closes_are_stored_after_it_is_gone(browser, site, query, tenant,
                                                                         arrivals):
    host = site("<button id='play'>Play</button>")
    context = browser.new_context()
    page = context.new_page()
    page.goto(host.url + "/")
    page.evaluate("Recap.track('song_played', {title: 'Blue'})")
    page.click("#play")
    with page.expect_event("close"):
        page.close(run_before_unload=True)  # the browser runs the page's unload path
    assert page.is_closed()

    names = [e["name"] for e in stored(query, tenant.app_id, lambda e: e["name"] == "page_left")]
    assert names == ["page_left"]
    assert [e["name"] or e["type"] for e in events(query, tenant.app_id)] == [
        "page", "song_played", "element_clicked", "page_left"]
    assert arrivals == [("/v1/batch", "text/plain", "no-cors")]  # one beacon, nothing else
    context.close()


@pytest.mark.browser
def test_following_a_link_sends_the_click_before_the_page_is_gone(page, site, query, tenant, arrivals):
    host = site("<a href='/next'>Next page</a>")
    page.goto(host.url + "/")
    page.click("text=Next page")
    page.wait_for_url(host.url + "/next")

    click = stored(query, tenant.app_id, lambda e: e["name"] == "element_clicked")[0]
    assert click["properties"]["text"] == "Next page" and click["context"]["page"]["path"] == "/"
    left = stored(query, tenant.app_id, lambda e: e["name"] == "page_left")[0]
    assert left["properties"]["path"] == "/"
    assert left["properties"]["reason"] in ("hidden", "unload")
    assert ("/v1/batch", "text/plain", "no-cors") in arrivals


@pytest.mark.browser
def test_identify_joins_the_earlier_anonymous_events_to_the_user(page, site, query, tenant):
    host = site("<p>Sign in</p>")
    page.goto(host.url + "/")
    anonymous = page.evaluate("Recap.anonymousId()")
    page.evaluate("Recap.track('signup_started')")
    page.evaluate("Recap.identify('user-42', {plan: 'pro'}); Recap.track('song_played'); Recap.flush()")

    stored(query, tenant.app_id, lambda e: e["name"] == "song_played")
    assert query("SELECT actor, user_id FROM identity WHERE app_id = ?", tenant.app_id) == [
        (f"a:{anonymous}", "user-42")]
    rows = events(query, tenant.app_id)
    identify = next(e for e in rows if e["type"] == "identify")
    assert identify["user_id"] == "user-42" and identify["properties"] == {"plan": "pro"}
    played = next(e for e in rows if e["name"] == "song_played")
    assert (played["user_id"], played["anonymous_id"]) == ("user-42", anonymous)
    earlier = next(e for e in rows if e["name"] == "signup_started")
    assert earlier["user_id"] is None and earlier["anonymous_id"] == anonymous

    # The user's events, the way stories read them, include what happened before sign-in.
    names = query("""SELECT name FROM event WHERE app_id = ? AND (actor = 'u:user-42' OR actor IN
                     (SELECT actor FROM identity WHERE app_id = ? AND user_id = 'user-42'))""",
                  tenant.app_id, tenant.app_id)
    assert {"signup_started", "song_played"} <= {n for (n,) in names}

    # Both ids outlive a reload; reset() forgets them (a shared computer's sign-out).
    page.reload()
    assert page.evaluate("[Recap.anonymousId(), Recap.userId()]") == [anonymous, "user-42"]
    page.evaluate("Recap.reset()")
    assert page.evaluate("Recap.userId()") is None
    assert page.evaluate("Recap.anonymousId()") != anonymous


@pytest.mark.browser
def test_do_not_track_and_opt_out_send_nothing(browser, site, query, tenant, arrivals):
    host = site("<button>Press</button>")
    context = browser.new_context()
    page = context.new_page()
    # The browser's Do Not Track setting cannot be switched on from here, so the page sees it set.
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})")
    context.add_cookies([{"name": "recap_aid", "value": "from-before-dnt", "url": host.url}])
    page.goto(host.url + "/")
    page.evaluate("Recap.track('dnt_event'); Recap.flush()")
    page.click("text=Press")
    assert page.evaluate("[Recap.anonymousId(), localStorage.getItem('recap:anonymousId')]") == [None, None]
    assert recap_aid(page) is None  # taken away: the site's server no longer links the visits
    with page.expect_event("close"):
        page.close(run_before_unload=True)

    other = browser.new_context()
    page = other.new_page()
    page.goto(host.url + "/")
    page.evaluate("Recap.optOut(); Recap.track('opted_out_event'); Recap.flush()")
    page.reload()  # the choice is remembered
    page.evaluate("Recap.track('opted_out_again'); Recap.flush()")
    page.evaluate("Recap.optIn(); Recap.track('opted_in_event'); Recap.flush()")

    stored(query, tenant.app_id, lambda e: e["name"] == "opted_in_event")
    assert [e["name"] for e in events(query, tenant.app_id)] == ["opted_in_event"]
    assert len(arrivals) == 1  # the opted-in flush; nothing at all from the Do Not Track page
    context.close()
    other.close()


BAD_CALLS = [
    "Recap.track()",
    "Recap.track('')",
    "Recap.track(42)",
    "Recap.track('x', 'not an object')",
    "Recap.track('x', [1, 2])",
    "Recap.track('circular', (() => { const o = {}; o.self = o; return o; })())",
    "Recap.track('huge', {blob: 'x'.repeat(100000)})",
    "Recap.identify()",
    "Recap.identify('')",
    "Recap.identify({id: 1})",
    "Recap.identify('u', 'traits')",
    "Recap.page(5)",
    "Recap.init({writeKey: 'another'})",
]


@pytest.mark.browser
@pytest.mark.parametrize("call", BAD_CALLS)
def test_bad_calls_warn_and_never_throw_into_the_page(page, site, query, tenant, call):
    host = site("")
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(host.url + "/")
    assert page.evaluate(f"(() => {{ {call}; return 'returned'; }})()") == "returned"
    assert any(w.startswith("recap.js: ") for w in warnings), warnings

    page.evaluate("Recap.track('still_working'); Recap.flush()")
    stored(query, tenant.app_id, lambda e: e["name"] == "still_working")
    names = {e["name"] or e["type"] for e in events(query, tenant.app_id)}
    assert names == {"page", "still_working"}


# ---- one window.Recap for recap.js and the story player, in any load order --------------------

SCRIPTS = {"recap": "/sdk/recap.js", "player": "/widget/player.js"}
LOADED = {"recap": "typeof Recap.track === 'function'", "player": "typeof Recap.story === 'function'"}


@pytest.mark.browser
@pytest.mark.parametrize("first", ["recap", "player"])
@pytest.mark.parametrize("mode", ["sync", "async", "defer"])
def test_recap_js_and_the_player_load_in_any_order_into_one_recap(page, site, live_server, query, tenant,
                                                                  mode, first):
    """Calls queued before either file, between them and after both all run, in order, and both
    APIs end up on the one object the first file made."""
    from helpers.player import preview_story

    second = "player" if first == "recap" else "recap"
    attr = "" if mode == "sync" else " " + mode
    stub = "window.Recap = window.Recap || []; Recap.push"
    init = (f'{{writeKey: "{tenant.write_key}", host: "{live_server.url}", {ONLY_TRACKED}}}')
    story = json.dumps(preview_story())
    host = site(html=f"""<!doctype html><html><head><title>Load order</title>
      <script>{stub}(["init", {init}], ["track", "before_both", {{n: 1}}]);</script>
      <script src="{live_server.url}{SCRIPTS[first]}"{attr}></script>
      <script>{stub}(["track", "between", {{n: 2}}]);</script>
      <script src="{live_server.url}{SCRIPTS[second]}"{attr}></script>
    </head><body><div id="story" style="height: 600px"></div>
      <script>{stub}(["story", "#story", {{story: {story}}}], ["track", "in_body", {{n: 3}}]);</script>
    </body></html>""")

    # The second file is held back until the first has run: the order is the test's, not the network's.
    held = []
    page.route(live_server.url + SCRIPTS[second], lambda route: held.append(route))
    page.goto(host.url + "/", wait_until="commit")
    # Polled on a timer: while a script in <head> is held nothing is painted, so the default
    # (animation frames) may never poll at all.
    page.wait_for_function(f"{LOADED[first]} && typeof Recap.push === 'function'", polling=50)
    page.evaluate("window.firstRecap = window.Recap")
    assert page.evaluate(LOADED[second]) is False
    wait_for(lambda: held, page=page)
    held[0].continue_()

    page.wait_for_function(f"{LOADED[second]} && document.readyState === 'complete'", polling=50)
    page.wait_for_selector("#story .recap-player[data-index='0']")  # the queued Recap.story ran
    assert page.evaluate("window.Recap === window.firstRecap")  # extended, not replaced
    page.evaluate("Recap.push(['track', 'after_both', {n: 4}]); Recap.flush()")
    assert page.evaluate("Recap._queued.length") == 0

    tracked = stored(query, tenant.app_id, lambda e: e["type"] == "track", count=4, page=page)
    assert [(e["name"], e["properties"]["n"]) for e in tracked] == [
        ("before_both", 1), ("between", 2), ("in_body", 3), ("after_both", 4)]
    assert {e["anonymous_id"] for e in tracked} == {page.evaluate("Recap.anonymousId()")}


@pytest.mark.browser
def test_a_queued_call_that_throws_is_reported_and_the_rest_still_run(browser, site, live_server, query,
                                                                     tenant):
    from helpers.player import preview_story

    init = f'{{writeKey: "{tenant.write_key}", host: "{live_server.url}", {ONLY_TRACKED}}}'
    host = site(html=f"""<!doctype html><html><body><div id="mount" style="height: 600px"></div>
      <script>window.Recap = [["story", "#no-such-element", {{}}],
        ["story", "#mount", {{story: {json.dumps(preview_story())}}}],
        ["init", {init}], ["track", "still_runs"], ["not_a_method_yet", 1], "not a call"];</script>
      <script src="{live_server.url}/widget/player.js"></script>
      <script src="{live_server.url}/sdk/recap.js"></script></body></html>""")
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(host.url + "/")
    page.wait_for_selector("#mount .recap-player")  # the call after the one that threw
    page.evaluate("Recap.flush()")
    stored(query, tenant.app_id, lambda e: e["name"] == "still_runs")
    wait_for(lambda: errors, page=page)
    assert errors == ["Recap.story: no element to mount in"]
    assert page.evaluate("Recap._queued") == [["not_a_method_yet", 1]]  # kept for a file that has it
    leave(page)
    context.close()


@pytest.mark.browser
def test_batches_leave_by_count_and_by_interval(page, site, query, tenant, arrivals):
    by_count = site("", init="flushAt: 3, flushInterval: 600000, capturePageViews: false")
    page.goto(by_count.url + "/")
    page.evaluate("Recap.track('one'); Recap.track('two')")
    time.sleep(0.5)
    assert arrivals == []  # two of three: still queued
    page.evaluate("Recap.track('three')")
    stored(query, tenant.app_id, lambda e: e["type"] == "track", count=3)
    assert len(arrivals) == 1  # one request carried all three

    by_time = site("", init="flushAt: 1000, flushInterval: 300, capturePageViews: false")
    page.goto(by_time.url + "/")
    page.evaluate("Recap.track('four'); Recap.track('five')")
    stored(query, tenant.app_id, lambda e: e["name"] in ("four", "five"), count=2)
    assert len(arrivals) == 2
    assert arrivals[-1] == ("/v1/batch", "text/plain", "cors")  # fetch, not a beacon, while visible


@pytest.mark.browser
@pytest.mark.parametrize("pad", ["'x'.repeat(1200)", "'\u20ac'.repeat(400)"], ids=["ascii", "3-byte-utf8"])
def test_what_a_beacon_cannot_carry_is_sent_by_the_next_page(page, site, query, tenant, arrivals, pad):
    # Chromium lets a page have 64 KiB (of UTF-8 bytes) of beacons in flight; 400 events of
    # ~1.5 KB need more, so the first beacon goes and the rest (~550 KB) must all be kept.
    host = site("", init="flushAt: 1000, flushInterval: 600000, capturePageViews: false")
    page.goto(host.url + "/")
    page.evaluate(f"for (let i = 0; i < 400; i++) Recap.track('bulk', {{i, pad: {pad}}})")
    page.evaluate(HIDE)
    first = len(stored(query, tenant.app_id, lambda e: e["name"] == "bulk"))
    assert 0 < first < 400
    assert page.evaluate("JSON.parse(localStorage.getItem('recap:queue')).length") == 400 - first

    page.goto(host.url + "/next")  # the same site again: the kept events go out
    bulk = stored(query, tenant.app_id, lambda e: e["name"] == "bulk", count=400)
    assert sorted(e["properties"]["i"] for e in bulk) == list(range(400))  # each exactly once
    assert page.evaluate("localStorage.getItem('recap:queue')") is None


@pytest.mark.browser
def test_events_kept_by_two_tabs_are_merged_and_both_sent(page, site, query, tenant):
    host = site("", init=ONLY_TRACKED)
    tabs = [page, page.context.new_page()]
    for name, tab in zip(["tab_one", "tab_two"], tabs, strict=True):
        tab.goto(host.url + "/")
        tab.evaluate(f"for (let i = 0; i < 200; i++) Recap.track('{name}', {{i, pad: 'x'.repeat(1200)}})")
    tabs[0].evaluate(HIDE)
    # Tabs see each other's storage writes a moment later; real tabs hide seconds apart.
    tabs[1].wait_for_function("localStorage.getItem('recap:queue')")
    tabs[1].evaluate(HIDE)
    kept = tabs[1].evaluate("JSON.parse(localStorage.getItem('recap:queue')).map(s => JSON.parse(s).event)")
    assert {"tab_one", "tab_two"} <= set(kept)

    tabs[1].goto(host.url + "/next")
    for name in ["tab_one", "tab_two"]:
        sent = stored(query, tenant.app_id, lambda e, name=name: e["name"] == name, count=200)
        assert sorted(e["properties"]["i"] for e in sent) == list(range(200))  # each exactly once
    tabs[1].close()


# (events per tab, tabs, pad): past a million characters, or past the 1,000 events a page holds.
OVER_BUDGET = {"characters": (900, 1, "'x'.repeat(1500)"), "events": (700, 2, "''")}


@pytest.mark.browser
@pytest.mark.parametrize("per_tab, tab_count, pad", OVER_BUDGET.values(), ids=OVER_BUDGET.keys())
def test_past_the_storage_budget_the_oldest_kept_events_go_with_a_warning(page, site, query, tenant,
                                                                         per_tab, tab_count, pad):
    host = site("", init=ONLY_TRACKED)
    tabs = [page] + [page.context.new_page() for _ in range(tab_count - 1)]
    warnings = console_warnings(tabs[-1])
    for t, tab in enumerate(tabs):
        tab.goto(host.url + "/")
        tab.evaluate(f"for (let i = 0; i < {per_tab}; i++) Recap.track('bulk', {{i: {t * per_tab} + i, pad: {pad}}})")
    for t, tab in enumerate(tabs):
        if t:  # tabs see each other's storage writes a moment later; real tabs hide seconds apart
            tab.wait_for_function("localStorage.getItem('recap:queue')")
        tab.evaluate(HIDE)
    warning = wait_for(lambda: [w for w in warnings if "oldest were dropped" in w], page=tabs[-1])[0]
    dropped = int(warning.split("no room to keep ")[1].split()[0])
    saved = tabs[-1].evaluate("localStorage.getItem('recap:queue')")
    kept = [json.loads(s)["properties"]["i"] for s in json.loads(saved)]
    assert len(saved) <= 1_000_000 and len(kept) <= 1000
    assert len(saved) > 990_000 if tab_count == 1 else len(kept) == 1000  # the bound this case meets
    newest = tab_count * per_tab - 1
    assert kept == sorted(kept) and kept[-1] == newest

    tabs[-1].goto(host.url + "/next")  # sends the kept events, oldest first
    stored(query, tenant.app_id, lambda e: e["properties"].get("i") == newest)
    sent = [e["properties"]["i"] for e in events(query, tenant.app_id)]
    assert len(sent) == len(set(sent)) == tab_count * per_tab - dropped  # lost: only what the warning said
    assert set(range(kept[0], newest + 1)) <= set(sent)  # and those were the oldest
    for tab in tabs[:-1]:
        tab.close()


@pytest.mark.browser
def test_calls_made_before_the_file_loads_are_replayed(page, site, query, tenant):
    host = site("", init=None, head="<script>window.Recap = [['track', 'early', {step: 1}]];</script>")
    page.goto(host.url + "/")
    page.wait_for_function("typeof Recap.track === 'function'")
    page.evaluate("Recap.push(['track', 'late', {step: 2}]); Recap.flush()")  # push keeps working
    early, late = stored(query, tenant.app_id, lambda e: e["type"] == "track", count=2)
    assert (early["name"], early["properties"], late["name"]) == ("early", {"step": 1}, "late")


@pytest.mark.browser
def test_events_kept_on_hide_go_out_when_the_page_is_visible_again(page, site, query, tenant):
    host = site("", init="flushAt: 1000, flushInterval: 600000, capturePageViews: false")
    page.goto(host.url + "/")
    page.evaluate("for (let i = 0; i < 100; i++) Recap.track('bulk', {i, pad: 'x'.repeat(1200)})")
    page.evaluate("""
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
      document.dispatchEvent(new Event('visibilitychange'));
    """)
    assert page.evaluate("localStorage.getItem('recap:queue')")
    page.evaluate("""
      Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
      document.dispatchEvent(new Event('visibilitychange'));
    """)
    bulk = stored(query, tenant.app_id, lambda e: e["name"] == "bulk", count=100)
    assert sorted(e["properties"]["i"] for e in bulk) == list(range(100))


@pytest.mark.browser
def test_taps_on_a_phone_are_recorded_as_clicks(phone, site, query, tenant):
    host = site("<button class='play'>Play my story</button>")
    phone.goto(host.url + "/")
    phone.tap("button.play")
    phone.evaluate("Recap.flush()")
    tap = stored(query, tenant.app_id, lambda e: e["name"] == "element_clicked")[0]
    assert (tap["properties"]["text"], tap["properties"]["selector"]) == ("Play my story", "button.play")
    assert tap["context"]["screen"]["width"] == 390


# The first delivery attempt meets a failure (made by the browser's network layer, since the real
# server cannot be asked to fail on cue); later attempts reach the real server.
FIRST_ATTEMPT = [
    ("network error", None, True),
    ("503", 503, True),
    ("429", 429, True),
    ("408", 408, True),
    ("400", 400, False),
    ("401", 401, False),
]


@pytest.mark.browser
@pytest.mark.parametrize("label, status, retried", FIRST_ATTEMPT, ids=[c[0] for c in FIRST_ATTEMPT])
def test_failed_batches_are_retried_unless_the_server_refused_them(page, site, query, tenant, arrivals,
                                                                  label, status, retried):
    attempts: list[str] = []

    def first_fails(route):
        attempts.append(route.request.url)
        if len(attempts) > 1:
            return route.continue_()
        if status is None:
            return route.abort("connectionreset")
        return route.fulfill(status=status, headers={"Access-Control-Allow-Origin": "*"},
                             content_type="application/json", body='{"error": {"code": "x"}}')

    page.route("**/v1/batch", first_fails)
    host = site("", init="flushAt: 1000, flushInterval: 600000, capturePageViews: false")
    page.goto(host.url + "/")
    page.evaluate("Recap.track('first'); Recap.flush()")
    wait_for(lambda: attempts, page=page)
    page.wait_for_timeout(200)  # the failed answer reaches the page
    page.evaluate("Recap.track('second'); Recap.flush()")

    stored(query, tenant.app_id, lambda e: e["name"] == "second", page=page)
    if retried:
        stored(query, tenant.app_id, lambda e: e["name"] == "first", page=page)
    page.wait_for_timeout(300)
    expected = ["first", "second"] if retried else ["second"]
    assert sorted(e["name"] for e in events(query, tenant.app_id)) == expected  # and each once


@pytest.mark.browser
def test_events_over_32_kib_are_refused_in_the_browser_with_a_warning(page, site, query, tenant):
    # The server's limit is 32 KiB of UTF-8 per event: one byte under it is sent, one over is not.
    bodies: list[str] = []
    page.on("request", lambda r: bodies.append(r.post_data) if r.url.endswith("/v1/batch") else None)
    warnings = console_warnings(page)
    host = site("", init=ONLY_TRACKED)
    page.goto(host.url + "/")
    page.evaluate("Recap.track('edge_zero', {pad: ''}); Recap.flush()")
    stored(query, tenant.app_id, lambda e: e["name"] == "edge_zero")
    base = len(bodies[0].split('{"batch":[', 1)[1].rsplit('],"sentAt":', 1)[0].encode())
    euros, rest = divmod(32 * 1024 - base, 3)  # 3-byte characters: bytes are counted, not characters
    fits = f"'\u20ac'.repeat({euros}) + 'x'.repeat({rest})"
    page.evaluate(f"Recap.track('edge_fits', {{pad: {fits}}}); Recap.track('edge_over', {{pad: {fits} + 'x'}});"
                  "Recap.flush()")
    assert any(w.startswith("recap.js: event too large (32769 bytes") and w.endswith(": edge_over")
               for w in warnings), warnings
    stored(query, tenant.app_id, lambda e: e["name"] == "edge_fits")
    assert "edge_over" not in "".join(bodies)  # refused before sending, not rejected by the server


@pytest.mark.browser
def test_events_the_server_rejects_are_named_in_a_warning(page, site, query, tenant):
    warnings = console_warnings(page)
    host = site("", init=ONLY_TRACKED)
    page.goto(host.url + "/")
    page.evaluate("Recap.track('kept'); Recap.track('n'.repeat(201)); Recap.flush()")  # names: 200 at most
    stored(query, tenant.app_id, lambda e: e["name"] == "kept", page=page)
    rejected = wait_for(lambda: [w for w in warnings if w.startswith("recap.js: server rejected")], page=page)
    assert rejected == ["recap.js: server rejected " + "n" * 201 + " (event: Longer than maximum length 200.)"]


@pytest.mark.browser
def test_a_flush_beyond_the_keepalive_quota_sends_every_batch_once_in_order(page, site, query, tenant,
                                                                            arrivals):
    # Eight ~25 KB events make four ~50 KB bodies: more than Chromium's 64 KiB of keepalive
    # requests in flight, so they must go one after another.
    host = site("", init=ONLY_TRACKED)
    page.goto(host.url + "/")
    page.evaluate("for (let i = 0; i < 8; i++) Recap.track('e' + i, {pad: 'x'.repeat(25000)}); Recap.flush()")
    stored(query, tenant.app_id, lambda e: e["name"].startswith("e"), count=8, page=page)
    assert [e["name"] for e in events(query, tenant.app_id)] == [f"e{i}" for i in range(8)]
    assert len(arrivals) == 4


# ---- the recap_aid cookie: the site's own server sees the same visitor ----------------------

YEAR_S = 365 * 86400


def recap_aid(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == "recap_aid"), None)


@pytest.mark.browser
def test_the_anonymous_id_is_kept_in_the_recap_aid_cookie_the_wsgi_middleware_reads(page, site, query,
                                                                                   tenant):
    from sdk.autocapture import default_user

    host = site("", init=ONLY_TRACKED)
    page.goto(host.url + "/")
    page.evaluate("Recap.track('first_visit'); Recap.flush()")
    sent = stored(query, tenant.app_id, lambda e: e["name"] == "first_visit")[0]["anonymous_id"]
    cookie = recap_aid(page)
    assert cookie is not None and cookie["value"] == sent
    assert (cookie["path"], cookie["sameSite"], cookie["secure"], cookie["httpOnly"]) == ("/", "Lax", False, False)
    assert cookie["expires"] == pytest.approx(time.time() + YEAR_S, abs=300)
    assert cookie["domain"] == "127.0.0.1"  # host-only: the page's own host

    # The next page request carries it, and the middleware's reader finds the same id in it.
    page.reload()
    assert page.evaluate("Recap.anonymousId()") == sent
    header = host.cookies[-1]
    assert default_user({"HTTP_COOKIE": header}) == (None, sent)
    assert recap_aid(page)["value"] == sent

    # reset() starts a new visitor at once, in the cookie too, so the server's next page view
    # already carries the new id; opting out takes the cookie away.
    page.evaluate("Recap.reset()")
    fresh = page.evaluate("Recap.anonymousId()")
    assert fresh != sent and recap_aid(page)["value"] == fresh
    page.evaluate("Recap.optOut()")
    assert recap_aid(page) is None
    page.reload()
    assert recap_aid(page) is None and host.cookies[-1] is None
    page.evaluate("Recap.optIn()")
    assert recap_aid(page)["value"] == fresh


@pytest.mark.browser
def test_the_recap_aid_cookie_is_secure_on_an_https_page(page, live_server, tenant):
    # An https origin the browser believes in: its page and recap.js are answered by the test.
    page.route("https://shop.example/sdk/recap.js", lambda route: route.fulfill(
        body=RECAP_JS.read_text(), content_type="text/javascript"))
    page.route("https://shop.example/", lambda route: route.fulfill(content_type="text/html", body=(
        '<!doctype html><script src="/sdk/recap.js"></script><script>Recap.init({writeKey: '
        f'"{tenant.write_key}", host: "{live_server.url}", {ONLY_TRACKED}}});</script>')))
    page.goto("https://shop.example/")
    cookie = recap_aid(page)
    assert cookie["value"] == page.evaluate("Recap.anonymousId()")
    assert (cookie["secure"], cookie["sameSite"], cookie["domain"]) == (True, "Lax", "shop.example")
