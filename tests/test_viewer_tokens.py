"""Viewer tokens: minted with the secret key, opaque, and good only for their own user."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from helpers.server import basic, http
from widget_server.auth import VIEWER_SALT, create_viewer_token, verify_viewer_token
from widget_server.errors import Unauthorized
from widget_server.store.db import database


def mint(server, key, body):
    return http("POST", server.url + "/v1/viewer-tokens", json.dumps(body).encode(),
                {"Content-Type": "application/json", **basic(key)})


def test_secret_key_mints_a_token_that_names_no_user(live_server, tenant):
    reply = mint(live_server, tenant.secret_key, {"user_id": "alice@example.com"})
    assert reply.status == 201
    body = reply.json()
    assert set(body) == {"token", "expires_at"}
    payload = body["token"].split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"alice" not in decoded and "alice" not in body["token"]


def test_write_key_cannot_mint_tokens(live_server, tenant):
    reply = mint(live_server, tenant.write_key, {"user_id": "alice"})
    assert reply.status == 401


@pytest.mark.parametrize("body, field", [({}, "user_id"), ({"user_id": ""}, "user_id"),
                                         ({"user_id": "a", "ttl": 5}, "ttl"), ({"user_id": 3}, "user_id")])
def test_bad_token_requests_name_the_field(live_server, tenant, body, field):
    reply = mint(live_server, tenant.secret_key, body)
    assert reply.status == 422 and field in reply.json()["error"]["details"]


def test_viewer_token_records_events_only_as_its_own_user(live_server, tenant, query):
    token = mint(live_server, tenant.secret_key, {"user_id": "alice"}).json()["token"]
    batch = {"batch": [{"type": "track", "event": "story_viewed", "userId": "mallory"},
                       {"type": "track", "event": "frame_viewed"}]}
    reply = http("POST", live_server.url + "/v1/batch", json.dumps(batch).encode(),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert reply.status == 200, reply.body
    assert query("SELECT user_id FROM event ORDER BY id") == [("alice",), ("alice",)]


def test_tampered_viewer_token_is_refused(live_server, tenant):
    token = mint(live_server, tenant.secret_key, {"user_id": "alice"}).json()["token"]
    bad = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    reply = http("POST", live_server.url + "/v1/track", json.dumps({"event": "x"}).encode(),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {bad}"})
    assert reply.status == 401


@pytest.mark.parametrize("ttl", [None, 2 * 3600, 24 * 3600])
def test_token_works_until_its_own_expires_at_and_not_after(live_server, tenant, monkeypatch, ttl):
    body = {"user_id": "alice"} if ttl is None else {"user_id": "alice", "ttl": ttl}
    minted = mint(live_server, tenant.secret_key, body).json()
    expires = datetime.fromisoformat(minted["expires_at"]).timestamp()

    def send_at(moment: float):
        monkeypatch.setattr(time, "time", lambda: moment)
        return http("POST", live_server.url + "/v1/track", json.dumps({"event": "x"}).encode(),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {minted['token']}"})

    assert send_at(expires - 60).status == 200
    late = send_at(expires + 1)
    assert late.status == 401 and late.json()["error"]["details"]["token"] == ["expired"]


def test_newest_signing_key_signs_and_older_ones_still_verify(app, tenant):
    old, new = app.config["SECRET_KEYS"][-1], "a-newly-rotated-signing-key-0123456789"

    def with_keys(keys, fn):
        app.config["SECRET_KEYS"] = keys
        with app.app_context(), database.connection_context():
            return fn()

    before = with_keys([old], lambda: create_viewer_token(tenant.app_id, "alice")[0])
    after = with_keys([old, new], lambda: create_viewer_token(tenant.app_id, "alice")[0])
    # After rotation the new key signs: a server that knows only the new key accepts the token.
    assert with_keys([new], lambda: verify_viewer_token(after).user_id) == "alice"
    # Tokens signed before the rotation keep working while the old key is still listed.
    assert with_keys([old, new], lambda: verify_viewer_token(before).user_id) == "alice"
    with pytest.raises(Unauthorized):
        with_keys([new], lambda: verify_viewer_token(before))


def test_minting_sweeps_expired_grants_and_keeps_live_ones(app, live_server, tenant, monkeypatch):
    from widget_server.auth import GRANT_SWEEP_ROWS
    from widget_server.store.models import ViewerGrant, now_ms

    now = now_ms()
    expired = [{"id": f"old{i:029d}", "app": tenant.app_id, "user_id": "u", "expires_at": now - 1000 - i}
               for i in range(GRANT_SWEEP_ROWS + 5)]
    live = [{"id": f"live{i:028d}", "app": tenant.app_id, "user_id": "u", "expires_at": now + 3_600_000}
            for i in range(3)]
    with database.connection_context():
        ViewerGrant.insert_many(expired + live).execute()

    def grants(prefix: str) -> int:
        with database.connection_context():
            return ViewerGrant.select().where(ViewerGrant.id.startswith(prefix)).count()

    minted = mint(live_server, tenant.secret_key, {"user_id": "alice", "ttl": 60}).json()
    assert grants("old") == 5  # one sweep deletes a bounded number (the old code kept them all)
    assert grants("live") == 3 and grants("") == 5 + 3 + 1
    mint(live_server, tenant.secret_key, {"user_id": "alice"})
    assert grants("old") == 5  # and runs at most once a minute per process

    # A minute and a half later the next sweep clears the rest, and alice's 60-second grant.
    later = time.time() + 90
    monkeypatch.setattr(time, "time", lambda: later)
    app.extensions["recap.grant_sweep"]["next"] = 0.0  # as if the minute had passed for the sweep too
    mint(live_server, tenant.secret_key, {"user_id": "bob"})
    assert grants("old") == 0 and grants("live") == 3
    late = http("POST", live_server.url + "/v1/track", json.dumps({"event": "x"}).encode(),
                {"Content-Type": "application/json", "Authorization": f"Bearer {minted['token']}"})
    assert late.status == 401 and late.json()["error"]["details"]["token"] == ["expired"]  # swept, still "expired"


def test_a_running_server_takes_keys_rotated_by_the_cli(app, live_server, tenant):
    before = mint(live_server, tenant.secret_key, {"user_id": "alice"}).json()["token"]
    old_keys = list(app.config["SECRET_KEYS"])
    env = {**os.environ, "RECAP_INSTANCE_PATH": app.instance_path}
    env.pop("RECAP_SECRET_KEYS", None)
    rotated = subprocess.run([os.path.join(os.path.dirname(sys.executable), "recap"), "keys", "rotate-signing"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert rotated.returncode == 0 and "2 signing keys" in rotated.stdout, rotated.stderr
    newest = (Path(app.instance_path) / "secret_keys").read_text().split()[-1]

    def track(token: str):
        return http("POST", live_server.url + "/v1/track", json.dumps({"event": "x"}).encode(),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})

    # A restarted server (knowing the new key) signs this; the one that kept running must accept it.
    payload = URLSafeTimedSerializer(old_keys, salt=VIEWER_SALT).loads(before)
    from_restarted = URLSafeTimedSerializer([newest], salt=VIEWER_SALT).dumps(payload)
    reply = track(from_restarted)
    assert reply.status == 200, reply.body  # the old code answered 401 "not valid" until a restart
    assert track(before).status == 200  # the old key still verifies
    # And the running server now signs with the new key: a server knowing only it accepts the token.
    after = mint(live_server, tenant.secret_key, {"user_id": "alice"}).json()["token"]
    assert URLSafeTimedSerializer([newest], salt=VIEWER_SALT).loads(after)["a"] == tenant.app_id
