"""Tagless capture: a Flask app and a plain WSGI (Django-style) app, served for real, record
their requests into the real Recap server; uncaught exceptions become events."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from flask import Flask, got_request_exception, request, session

import sdk
from demo_app.serving import WSGIInThread
from helpers.server import http
from sdk.autocapture import (
    WSGIMiddleware,
    anonymous_id_cookie,
    capture_exceptions,
    from_flask_session,
    from_headers,
    is_navigation,
    track_exception,
)

# What Chromium sends when the user opens a page (and what these tests send unless told otherwise).
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-Site": "none",
              "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class Served(WSGIInThread):
    """Any WSGI app on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        super().__init__(app, name="served")
        self.start()

    def get(self, path: str, **headers: str):
        """A browser navigation to ``path``; ``headers`` are added (an empty value removes one)."""
        sent = {k: v for k, v in {**NAVIGATION, **headers}.items() if v}
        return http("GET", self.url + path, headers=sent)


@pytest.fixture
def serve():
    started: list[Served] = []

    def start(app) -> Served:
        started.append(Served(app))
        return started[-1]

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def recap(live_server, tenant):
    client = sdk.Client(tenant.write_key, host=live_server.url, spool=False, flush_interval=0.05)
    yield client
    client.shutdown(timeout=1)


def pages(query, expected: int | None = None) -> list[tuple]:
    """Page and screen events; waits for ``expected`` of them, since a WSGI server records a
    request when it closes the response, just after the client has read it. For the same
    reason two requests in a row may be sent to Recap in either order: compare them by path."""
    deadline = time.monotonic() + 5
    while expected is not None and time.monotonic() < deadline:
        if query("SELECT COUNT(*) FROM event WHERE type IN ('page', 'screen')")[0][0] >= expected:
            break
        time.sleep(0.02)
    rows = query("SELECT type, name, user_id, anonymous_id, properties FROM event WHERE type IN ('page', 'screen')"
                 " ORDER BY id")
    return [(t, n, u, a, json.loads(p)) for t, n, u, a, p in rows]


def flask_shop() -> Flask:
    app = Flask("shop")
    app.secret_key = "test-only"

    @app.get("/songs/<int:song_id>")
    def song(song_id: int):
        return f"song {song_id}"

    @app.get("/login/<name>")
    def login(name: str):
        session["user_id"] = name
        return "ok"

    @app.get("/missing")
    def missing():
        return "nope", 404

    @app.get("/health")
    def health():
        return "ok"

    return app


def test_flask_requests_are_pages_with_route_status_and_timing(serve, recap, query):
    app = flask_shop()
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, recap, user_resolver=from_headers("X-User-Id", None))
    site = serve(app)
    assert site.get("/songs/7", **{"X-User-Id": "u1", "Referer": "https://ex.com/a?email=x@y.z",
                                   "User-Agent": "TestAgent/1"}).status == 200
    assert site.get("/missing", **{"X-User-Id": "u1"}).status == 404
    assert site.get("/nowhere").status == 404
    for path in ("/health", "/static/app.css", "/logo.png", "/favicon.ico"):
        site.get(path)
    site.get("/songs/8", **{"X-User-Id": "u2"})  # sent after every excluded request
    rows = {row[4]["path"]: row for row in pages(query, 4)}
    assert {path: (t, n, u) for path, (t, n, u, _, _) in rows.items()} == {
        "/songs/7": ("page", "/songs/<int:song_id>", "u1"), "/missing": ("page", "/missing", "u1"),
        "/nowhere": ("page", "/nowhere", None), "/songs/8": ("page", "/songs/<int:song_id>", "u2")}
    first = rows["/songs/7"][4]
    assert first["route"] == "/songs/<int:song_id>" and first["endpoint"] == "song"
    assert (first["method"], first["status"]) == ("GET", 200)
    assert first["referrer"] == "https://ex.com/a" and first["user_agent"] == "TestAgent/1"
    assert 0 <= first["duration_ms"] < 5000
    assert rows["/missing"][4]["status"] == 404
    assert rows["/nowhere"][3].startswith("anon-")  # no user known: a cookieless anonymous id


def test_a_page_is_stamped_when_its_request_arrived_not_when_it_ended(serve, recap, query):
    entered: list[float] = []

    def slow(environ, start_response):
        entered.append(time.time())
        time.sleep(0.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    site = serve(WSGIMiddleware(slow, recap))
    sent = time.time()
    assert site.get("/slow").status == 200
    pages(query, 1)
    (stamped,) = query("SELECT timestamp FROM event WHERE type = 'page'")[0]
    # The server keeps the gap the SDK measured (sentAt - timestamp), so local clocks compare;
    # the batch's time in transit is added (milliseconds, more on a busy machine), the end came
    # 500 ms after the arrival.
    assert sent * 1000 - 5 <= stamped <= entered[0] * 1000 + 250


def test_flask_session_user_resolver(serve, recap, query):
    app = flask_shop()
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, recap, user_resolver=from_flask_session(app))
    site = serve(app)
    cookie = site.get("/login/ada").headers["Set-Cookie"].split(";")[0]
    site.get("/songs/1", Cookie=cookie)
    assert ("/songs/<int:song_id>", "ada") in [(n, u) for _, n, u, _, _ in pages(query, 2)]


def plain_wsgi_app(environ, start_response):
    """What Django's WSGIHandler looks like from outside: no route in the environ."""
    if environ["PATH_INFO"] == "/explode":
        raise RuntimeError("kaboom")
    body = b"hello"
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def test_plain_wsgi_app_with_remote_user_cookie_and_app_route(serve, recap, query):
    def app(environ, start_response):
        if environ["PATH_INFO"].startswith("/articles/"):
            environ["recap.route"] = "articles/<slug:slug>/"  # what a Django middleware would set
        return plain_wsgi_app(environ, start_response)

    site = serve(WSGIMiddleware(app, recap, event_type="screen"))
    site.get("/articles/hello/", Cookie="theme=dark; recap_aid=a-123")
    site.get("/about")
    rows = {n: (t, a, properties) for t, n, _, a, properties in pages(query, 2)}
    assert sorted(rows) == ["/about", "articles/<slug:slug>/"]
    assert rows["articles/<slug:slug>/"][:2] == ("screen", "a-123") and rows["/about"][0] == "screen"
    assert rows["articles/<slug:slug>/"][2]["status"] == 201 and "route" not in rows["/about"][2]


def test_exceptions_in_the_app_are_recorded_and_still_raised(recap, query):
    middleware = WSGIMiddleware(plain_wsgi_app, recap, capture_exceptions=True)
    with pytest.raises(RuntimeError, match="kaboom"):
        middleware({"PATH_INFO": "/explode", "REQUEST_METHOD": "GET", "recap.user_id": "u9",
                    "HTTP_SEC_FETCH_MODE": "navigate"}, lambda *a: None)
    assert recap.flush(timeout=5)
    rows = query("SELECT type, name, user_id, properties FROM event ORDER BY id")
    assert [(t, n, u) for t, n, u, _ in rows] == [("page", "/explode", "u9"), ("track", "Exception", "u9")]
    details = json.loads(rows[1][3])
    assert details["type"] == "builtins.RuntimeError" and details["message"] == "kaboom"
    assert details["path"] == "/explode" and any("plain_wsgi_app" in f for f in details["frames"])
    assert json.loads(rows[0][3])["status"] == 500


def test_a_flask_view_exception_is_recorded_through_flasks_signal_as_documented(serve, recap, query):
    app = flask_shop()  # production settings: Flask answers 500 itself, the middleware sees no exception

    @app.get("/boom")
    def boom():
        raise KeyError("cart-42")

    def record(sender, exception, **extra):  # the recipe of docs/SDK.md
        track_exception(recap, exception, properties={"path": request.path, "route": str(request.url_rule)})

    got_request_exception.connect(record, app, weak=False)
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, recap, capture_exceptions=True)
    site = serve(app)
    assert site.get("/boom").status == 500
    assert [p["status"] for *_, p in pages(query, 1)] == [500]
    assert recap.flush(timeout=5)
    rows = query("SELECT properties FROM event WHERE name = 'Exception'")
    assert len(rows) == 1  # from the signal only: nothing reached the middleware
    details = json.loads(rows[0][0])
    assert (details["type"], details["path"], details["route"]) == ("builtins.KeyError", "/boom", "/boom")


def test_a_failing_resolver_never_breaks_the_request(serve, recap, query, caplog):
    def broken(environ):
        raise KeyError("session")

    site = serve(WSGIMiddleware(plain_wsgi_app, recap, user_resolver=broken))
    reply = site.get("/about")
    assert (reply.status, reply.body) == (201, b"hello")
    assert [(n, a[:5]) for _, n, _, a, _ in pages(query, 1)] == [("/about", "anon-")]
    assert "broken failed; recording the request without it" in caplog.text


FETCH = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Site": "same-origin", "Accept": "*/*"}
OLD_BROWSER = {"Sec-Fetch-Mode": "", "Sec-Fetch-Dest": "", "Sec-Fetch-Site": ""}

VIEWS = [
    ("a navigation", NAVIGATION, True),
    ("a navigation in an iframe", {**NAVIGATION, "Sec-Fetch-Dest": "iframe"}, True),
    ("a form posted by the browser (a navigation)", {**NAVIGATION, "Sec-Fetch-Site": "same-origin"}, True),
    ("fetch()", FETCH, False),
    ("fetch() asking for HTML (htmx-style)", {**FETCH, "Sec-Fetch-Mode": "same-origin", "Accept": "text/html"},
     False),
    ("XHR", {**FETCH, "X-Requested-With": "XMLHttpRequest"}, False),
    ("a script", {**NAVIGATION, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, False),
    ("an image", {**NAVIGATION, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, False),
    ("a prefetch", {**NAVIGATION, "Sec-Purpose": "prefetch"}, False),
    ("a prerender", {**NAVIGATION, "Sec-Purpose": "prefetch;prerender"}, False),
    ("Firefox's old prefetch", {**OLD_BROWSER, "X-Moz": "prefetch", "Accept": "text/html"}, False),
    ("an old browser's navigation", {**OLD_BROWSER, "Accept": "text/html,application/xhtml+xml;q=0.9"}, True),
    ("an old browser's XHTML navigation", {**OLD_BROWSER, "Accept": "application/xhtml+xml"}, True),
    ("an old browser's XHR", {**OLD_BROWSER, "Accept": "text/html", "X-Requested-With": "XMLHttpRequest"}, False),
    ("an old browser's fetch()", {**OLD_BROWSER, "Accept": "*/*"}, False),
    ("HTML refused", {**OLD_BROWSER, "Accept": "text/html;q=0, */*"}, False),
    ("HTML with a broken weight", {**OLD_BROWSER, "Accept": "text/html;q=x"}, False),
    ("curl", {**OLD_BROWSER, "Accept": "*/*", "User-Agent": "curl/8.5.0"}, False),
    ("no headers at all", {**OLD_BROWSER, "Accept": ""}, False),
]


@pytest.mark.parametrize("headers, view", [v[1:] for v in VIEWS], ids=[v[0] for v in VIEWS])
def test_only_document_navigations_are_page_views(headers, view):
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if v}
    assert is_navigation(environ) is view


def test_the_apps_own_api_calls_are_not_pages(serve, recap, query):
    app = flask_shop()

    @app.post("/api/cart")
    def cart():
        return {"items": 1}

    app.wsgi_app = WSGIMiddleware(app.wsgi_app, recap)
    site = serve(app)
    assert site.get("/songs/1", **FETCH).status == 200
    assert site.get("/songs/2", **OLD_BROWSER, Accept="*/*", **{"X-Requested-With": "XMLHttpRequest"}).status == 200
    assert http("POST", site.url + "/api/cart", b"{}", {**FETCH, "Content-Type": "application/json"}).status == 200
    assert site.get("/songs/3").status == 200  # a navigation, after the rest
    assert [p["path"] for *_, p in pages(query, 1)] == ["/songs/3"]
    assert recap.flush(timeout=5)
    assert [p["path"] for *_, p in pages(query)] == ["/songs/3"]


def test_chromium_records_the_page_but_not_its_fetch_and_xhr_calls(serve, recap, query, browser):
    app = Flask("spa")

    @app.get("/app")
    def shell():
        return ("<!doctype html><title>app</title><script>"
                "fetch('/api/me').then(r => r.text()).then(() => {"
                " const x = new XMLHttpRequest(); x.open('GET', '/api/list');"
                " x.setRequestHeader('X-Requested-With', 'XMLHttpRequest');"
                " x.onload = () => { document.title = 'done'; }; x.send(); });</script>")

    @app.get("/api/<name>")
    def api(name: str):
        return {"name": name}

    app.wsgi_app = WSGIMiddleware(app.wsgi_app, recap)
    site = serve(app)
    page = browser.new_page()
    try:
        page.goto(site.url + "/app")
        page.wait_for_function("document.title === 'done'", timeout=10_000)
        page.goto("about:blank")
    finally:
        page.close()
    assert recap.flush(timeout=5)
    time.sleep(0.2)  # (the last request is recorded as the server closes its response)
    assert recap.flush(timeout=5)
    assert [p["path"] for *_, p in pages(query)] == ["/app"]


AID = "3b241101-e2bb-4255-8caf-4136c566a962"  # what crypto.randomUUID() gives recap.js


@pytest.mark.parametrize("cookie, expected", [
    (f"recap_aid={AID}", AID),
    (f"theme=dark; recap_aid={AID}; lang=fr", AID),
    (f"recap_aid=; recap_aid={AID}", AID),  # the first well-formed one
    ("recap_aid=" + "a" * 200, "a" * 200),
    ("recap_aid=" + "a" * 201, None),  # oversized
    ('recap_aid="quoted"', None),
    ("recap_aid=a%20b", None),
    ("recap_aid=<script>", None),
    ("recap_aid", None),
    ("recap_aid=", None),
    (f"Recap_aid={AID}", None),  # cookie names are case-sensitive
    (f"xrecap_aid={AID}", None),
    ("", None),
])
def test_the_recap_aid_cookie_is_read_exactly_as_recap_js_writes_it(cookie, expected):
    assert anonymous_id_cookie({"HTTP_COOKIE": cookie} if cookie else {}) == expected


def test_a_page_view_joins_the_browsers_anonymous_id_from_its_cookie(serve, recap, query):
    site = serve(WSGIMiddleware(plain_wsgi_app, recap))
    site.get("/with-cookie", Cookie=f"theme=dark; recap_aid={AID}")
    site.get("/bad-cookie", Cookie="recap_aid=" + "x" * 300)
    rows = {n: a for _, n, _, a, _ in pages(query, 2)}
    assert rows["/with-cookie"] == AID
    assert rows["/bad-cookie"].startswith("anon-")  # ignored: the cookieless id instead


def test_custom_exclusions(serve, recap, query):
    site = serve(WSGIMiddleware(plain_wsgi_app, recap, exclude=lambda env: env["PATH_INFO"].startswith("/admin"),
                                exclude_paths={"/up"}))
    for path in ("/admin/x", "/up", "/kept"):
        site.get(path)
    site.get("/kept-too")
    assert sorted(n for _, n, _, _, _ in pages(query, 2)) == ["/kept", "/kept-too"]


@pytest.mark.parametrize("kwargs, error", [
    ({"app": None}, TypeError), ({"client": object()}, TypeError), ({"event_type": "track"}, ValueError),
    ({"user_resolver": "header"}, TypeError), ({"exclude": 3}, TypeError), ({"is_view": "all"}, TypeError),
])
def test_bad_middleware_arguments(recap, kwargs, error):
    arguments = {"app": plain_wsgi_app, "client": recap, **kwargs}
    with pytest.raises(error):
        WSGIMiddleware(arguments.pop("app"), arguments.pop("client"), **arguments)


def test_uncaught_exceptions_in_threads_and_main_are_recorded(live_server, tenant, query, tmp_path):
    script = textwrap.dedent(f"""
        import threading, sdk
        from sdk.autocapture import capture_exceptions
        client = sdk.Client({tenant.write_key!r}, host={live_server.url!r}, spool_path={str(tmp_path / 's')!r})
        capture_exceptions(client, user_id="ops")
        worker = threading.Thread(target=lambda: 1 / 0, name="job")
        worker.start(); worker.join()
        raise ValueError("main failed")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "main failed" in result.stderr  # the usual hooks still ran
    rows = query("SELECT user_id, properties FROM event WHERE name = 'Exception' ORDER BY id")
    details = [json.loads(p) for _, p in rows]
    assert [(d["type"], d.get("thread"), d["handled"]) for d in details] == [
        ("builtins.ZeroDivisionError", "job", False), ("builtins.ValueError", None, False)]
    assert {u for u, _ in rows} == {"ops"}


def test_capture_exceptions_can_be_undone(recap):
    before = sys.excepthook, threading.excepthook
    undo = capture_exceptions(recap)
    assert (sys.excepthook, threading.excepthook) != before
    undo()
    assert (sys.excepthook, threading.excepthook) == before
    assert os.getpid()  # the test process itself is untouched
