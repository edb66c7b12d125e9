"""Fixtures over real resources: a temporary SQLite file and a real server on 127.0.0.1."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from helpers.browser import CHROMIUM, CHROMIUM_ARGS, leave, servers_before_pages
from helpers.server import LiveServer, Tenant, make_tenant
from widget_server import create_app
from widget_server.engine import population
from widget_server.store.db import database

# Fixtures defined beside the helpers they belong to, offered to every test.
pytest_plugins = ("helpers.jobs", "helpers.player", "helpers.postgres", "helpers.share", "helpers.video")


# The files of a SQLite store brought up to date: the store and its keys file (store.sqlite_files).
STORE_FILES = ("recap.sqlite3", "recap.sqlite3-keys")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "fresh_store: the `app` fixture migrates a new store instead of "
                                       "copying the session's migrated one")


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory) -> Path:
    """An instance folder whose store ``create_app`` made and brought up to date, once per session
    (per xdist worker). Each ``app`` starts from a copy of its files: running every migration on
    a new file cost each of ~850 tests more than it did to copy two files."""
    instance = tmp_path_factory.mktemp("migrated") / "instance"
    create_app({"INSTANCE_PATH": str(instance), "TESTING": True})
    database.close() if not database.is_closed() else None
    assert not any((instance / (name + "-wal")).exists() for name in STORE_FILES)  # all in the main files
    return instance


@pytest.fixture
def app(tmp_path, request) -> Flask:
    """A new instance folder with a store of its own: a copy of the session's migrated store
    (the app still opens it and runs ``upgrade``, which finds nothing to do), or with the
    ``fresh_store`` mark a store the app creates and migrates itself."""
    instance = tmp_path / "instance"
    if request.node.get_closest_marker("fresh_store") is None:
        template = request.getfixturevalue("migrated_store")
        instance.mkdir(mode=0o700)
        for name in STORE_FILES:
            shutil.copyfile(template / name, instance / name)
            (instance / name).chmod(0o600)
    app = create_app({"INSTANCE_PATH": str(instance), "TESTING": True})
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


def pytest_collection_modifyitems(config, items) -> None:
    """Every fault test is marked ``alone``: they time requests under load they make themselves,
    so scripts/test.sh runs them after the parallel part, with nothing beside them."""
    for item in items:
        if "faults" in item.path.parts:
            item.add_marker(pytest.mark.alone)
