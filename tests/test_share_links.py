"""Where share links point: configuration, never a Host header a caller made up."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers.server import basic, http
from helpers.share import USER, bearer, meta_tags, png_bytes, post_json, share, viewer_token
from widget_server.store.db import database
from widget_server.store.models import Share, Upload

RECAP = os.path.join(os.path.dirname(sys.executable), "recap")


def _count(model) -> int:
    with database.connection_context():
        return model.select().count()


def _share_as(server, tenant, host: str):
    token = viewer_token(server, tenant.secret_key, USER)
    return post_json(server, "/v1/shares", {"template": "year-in-music"}, {**bearer(token), "Host": host})


def test_a_forged_host_never_becomes_a_share_link(soundwave, live_server):
    reply = _share_as(live_server, soundwave, "evil.example")
    assert reply.status == 503, reply.body  # the old code answered 201 with http://evil.example/s/…
    error = reply.json()["error"]
    assert error["code"] == "not_configured" and "RECAP_PUBLIC_BASE_URL" in error["details"]
    assert b"evil.example" not in reply.body and _count(Share) == 0


def test_a_forged_host_never_becomes_an_upload_url(soundwave, live_server):
    token = viewer_token(live_server, soundwave.secret_key, USER)
    reply = http("POST", live_server.url + "/v1/uploads", png_bytes(),
                 {"Content-Type": "image/png", **bearer(token), "Host": "evil.example"})
    assert reply.status == 503 and reply.json()["error"]["code"] == "not_configured"
    assert _count(Upload) == 0  # refused before anything was stored


def test_production_refuses_to_mint_links_without_a_public_base(app, soundwave, live_server):
    app.config["TESTING"] = False  # as under gunicorn: not even a loopback host is trusted
    reply = _share_as(live_server, soundwave, f"127.0.0.1:{live_server.port}")
    assert reply.status == 503 and "RECAP_PUBLIC_BASE_URL" in reply.json()["error"]["message"]
    app.config["PUBLIC_BASE_URL"] = "https://cards.example.org"
    reply = _share_as(live_server, soundwave, "evil.example")
    assert reply.status == 201 and reply.json()["url"].startswith("https://cards.example.org/s/")


def test_trusted_hosts_name_the_hosts_links_may_use(app, soundwave, live_server):
    app.config["TESTING"] = False
    app.config["TRUSTED_HOSTS"] = ["cards.example.org", "127.0.0.1"]
    refused = _share_as(live_server, soundwave, "evil.example")
    assert refused.status == 400 and refused.json()["error"]["code"] == "bad_request"
    reply = _share_as(live_server, soundwave, "cards.example.org")
    assert reply.status == 201, reply.body
    body = reply.json()
    assert body["url"].startswith("http://cards.example.org/s/")
    token = body["url"].rsplit("/", 1)[1]
    page = http("GET", f"{live_server.url}/s/{token}").body.decode()
    tags = meta_tags(page)
    assert tags["og:url"] == body["url"] and tags["og:image"] == f"{body['url']}/og.png"
    assert "evil.example" not in page


def test_the_page_keeps_its_configured_links_whatever_host_opens_it(soundwave, live_server):
    body = share(live_server, soundwave)
    token = body["url"].rsplit("/", 1)[1]
    page = http("GET", f"{live_server.url}/s/{token}", None, {"Host": "evil.example"}).body.decode()
    assert "evil.example" not in page and meta_tags(page)["og:image"] == body["images"]["og"]


def test_trusted_hosts_come_from_the_environment(tmp_path, monkeypatch):
    from widget_server import create_app
    monkeypatch.setenv("RECAP_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("RECAP_TRUSTED_HOSTS", "cards.example.org, .example.net")
    try:
        assert create_app().config["TRUSTED_HOSTS"] == ["cards.example.org", ".example.net"]
    finally:
        database.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_recap_run_links_point_at_its_own_address(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECAP_", "FLASK_"))}
    env["RECAP_INSTANCE_PATH"] = str(tmp_path / "instance")
    created = subprocess.run([RECAP, "apps", "create", "Run"], env=env, capture_output=True, text=True, timeout=60)
    secret = dict(line.split(": ", 1) for line in created.stdout.splitlines())["secret_key"]
    port = _free_port()
    server = subprocess.Popen([RECAP, "run", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                minted = http("POST", url + "/v1/viewer-tokens", json.dumps({"user_id": "u1"}).encode(),
                              {"Content-Type": "application/json", **basic(secret)}, timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "recap run did not start"
                time.sleep(0.1)
        assert minted.status == 201, minted.body
        reply = http("POST", url + "/v1/uploads", png_bytes(),
                     {"Content-Type": "image/png", **bearer(minted.json()["token"]), "Host": "evil.example"})
        assert reply.status == 201, reply.body
        assert reply.json()["url"].startswith(url + "/u/")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_share_links_signed_with_a_rotated_key_open_on_a_running_server(app, soundwave, live_server):
    from itsdangerous import Signer

    from widget_server.share.tokens import SALT

    body = share(live_server, soundwave)
    env = {k: v for k, v in os.environ.items() if k != "RECAP_SECRET_KEYS"}
    env["RECAP_INSTANCE_PATH"] = app.instance_path
    rotated = subprocess.run([RECAP, "keys", "rotate-signing"], env=env, capture_output=True, text=True, timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    newest = (Path(app.instance_path) / "secret_keys").read_text().split()[-1]
    token = Signer([newest], salt=SALT).sign(body["id"]).decode()  # as a restarted server signs it
    assert http("GET", f"{live_server.url}/s/{token}").status == 200  # the old code: 404 until a restart
    assert http("GET", body["url"]).status == 200  # links signed with the old key still open
