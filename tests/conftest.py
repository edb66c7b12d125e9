"""Fixtures over real resources: a temporary SQLite file and a real server on 127.0.0.1."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.serving import make_server

from widget_server import create_app
from widget_server.auth import create_key
from widget_server.store.db import database
from widget_server.engine import population
from widget_server.store.models import ApiKey, App


@dataclass
class Tenant:
    """An app with its keys, as `recap apps create` makes it."""

    app_id: int
    name: str
    write_key: str
    secret_key: str


def make_tenant(name: str = "Test App", **fields) -> Tenant:
    with database.connection_context():
        app = App.create(name=name, **fields)
        return Tenant(app.id, name, create_key(app, ApiKey.WRITE), create_key(app, ApiKey.SECRET))


@pytest.fixture
def app(tmp_path) -> Flask:
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
    yield app
    population.background.wait(30)  # a refresh a story started must not outlive its database
    database.close() if not database.is_closed() else None


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def tenant(app) -> Tenant:
    return make_tenant()


class LiveServer:
    """The app served by werkzeug on a free loopback port, in a thread."""

    def __init__(self, app: Flask, port: int = 0):
        self.app = app
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="live-server", daemon=True)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def query(app):
    """Run SQL against the test database and return all rows."""
    def run(sql: str, *params):
        with database.connection_context():
            return database.execute_sql(sql, params).fetchall()
    return run


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        import json
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 10) -> Reply:
    """One real HTTP request; error statuses are returned, not raised."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def basic(key: str) -> dict:
    import base64
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    import os
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; scripts/test.sh installs it")
        pytest.skip(f"{CHROMIUM} is not installed")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Servers a page may talk to. A test's page is closed before they stop, so its last requests
# (the beacons a page sends as it goes away) still meet a server; Chromium was seen to hang
# closing a page whose server had already gone.
PAGE_SERVERS = ("live_server", "site")


def servers_before_pages(request) -> None:
    """Set up the test's servers before its page, so pytest tears them down after it."""
    for name in PAGE_SERVERS:
        if name in request.fixturenames:
            request.getfixturevalue(name)


@pytest.fixture
def phone(browser, request):
    """A fresh page at phone size (390×844), closed after the test, before its servers stop."""
    servers_before_pages(request)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    leave(page)
    context.close()


def leave(page) -> None:
    """Navigate away first, so the page's unload work (the player's last beacons) runs while
    its servers answer and within a time limit; closing a context with that still pending was
    seen to hang Chromium."""
    try:
        page.goto("about:blank", timeout=5000)
    except Exception:  # a page that will not leave is closed all the same
        pass
