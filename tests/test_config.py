"""Configuration as an operator gives it: defaults < the instance folder's ``config.py`` <
``RECAP_*`` environment variables, read by ``create_app()`` with no test config."""
from __future__ import annotations

import json

import pytest

from helpers.server import LiveServer, basic, http, make_tenant
from widget_server import create_app
from widget_server.store.db import database


@pytest.fixture
def configured(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    for name in ("RECAP_DATABASE_URL", "RECAP_SECRET_KEYS", "RECAP_PUBLIC_BASE_URL", "RECAP_MAX_BATCH_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECAP_INSTANCE_PATH", str(instance))

    def make(config_py: str = "", **env: str):
        (instance / "config.py").write_text(config_py)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return create_app()

    yield make
    database.close() if not database.is_closed() else None


def test_defaults_fill_what_nothing_sets(configured, tmp_path):
    app = configured()
    assert app.config["MAX_BATCH_BYTES"] == 500 * 1024
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path}/instance/recap.sqlite3"
    assert len(app.config["SECRET_KEYS"]) == 1 and (tmp_path / "instance" / "secret_keys").exists()


def test_the_instance_file_overrides_defaults_and_the_environment_overrides_both(configured):
    app = configured("MAX_BATCH_BYTES = 1000\nMAX_EVENTS_PER_BATCH = 7\n", RECAP_MAX_BATCH_BYTES="2000")
    assert app.config["MAX_BATCH_BYTES"] == 2000  # environment, as a number
    assert app.config["MAX_EVENTS_PER_BATCH"] == 7  # instance file
    assert app.config["MAX_EVENT_BYTES"] == 32 * 1024  # default


def test_environment_settings_reach_the_running_server(configured, tmp_path):
    elsewhere = tmp_path / "data" / "store.sqlite3"
    elsewhere.parent.mkdir()
    app = configured("MAX_BATCH_BYTES = 1500\n", RECAP_DATABASE_URL=f"sqlite:///{elsewhere}",
                     RECAP_SECRET_KEYS="an-old-signing-key-0123456789, the-newest-signing-key-0123456789",
                     RECAP_PUBLIC_BASE_URL="https://recap.example/")
    assert app.config["SECRET_KEYS"] == ["an-old-signing-key-0123456789", "the-newest-signing-key-0123456789"]
    assert app.config["PUBLIC_BASE_URL"] == "https://recap.example"
    tenant = make_tenant()
    server = LiveServer(app).start()
    try:
        small = json.dumps({"batch": [{"type": "track", "event": "x", "userId": "u"}]}).encode()
        big = json.dumps({"batch": [{"type": "track", "event": "x" * 100, "userId": "u"}] * 20}).encode()
        headers = {"Content-Type": "application/json", **basic(tenant.write_key)}
        assert http("POST", server.url + "/v1/batch", small, headers).status == 200
        assert http("POST", server.url + "/v1/batch", big, headers).status == 413  # the file's limit
    finally:
        server.stop()
    assert elsewhere.exists() and not (tmp_path / "instance" / "recap.sqlite3").exists()


def test_what_a_process_caches_belongs_to_its_database(tmp_path):
    """One process may serve another database later (tests, tools): an app id there is
    another app, with its own time zone."""
    offsets = []
    for name, zone in (("first", "Asia/Tokyo"), ("second", "UTC")):
        app = create_app({"INSTANCE_PATH": str(tmp_path / name), "TESTING": True})
        tenant = make_tenant(name, timezone=zone)
        assert tenant.app_id == 1
        with app.test_client() as client:
            reply = client.post("/v1/track", json={"userId": "u", "event": "x"}, headers=basic(tenant.write_key))
            assert reply.status_code == 200
        with database.connection_context():
            offsets.append(database.execute_sql("SELECT utc_offset FROM event").fetchone()[0])
        database.close()
    assert offsets == [540, 0]
