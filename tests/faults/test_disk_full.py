"""A full disk, for real: the instance folder on a small tmpfs, filled to the last page.

Every write answers 507 with Retry-After and the JSON error body (never a 500), leaves no file
behind, and once space returns the same server takes writes again without losing anything it
had acknowledged.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from helpers.server import LiveServer, basic, http, make_tenant
from helpers.share import plays
from helpers.story import viewer_token
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.sqlite_files import sqlite3

MOUNT_SIZE = "8m"


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of MOUNT_SIZE at a temporary folder, unmounted afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    mount = shutil.which("mount")
    mounted = mount and subprocess.run([mount, "-t", "tmpfs", "-o", f"size={MOUNT_SIZE}", "tmpfs", str(where)],
                                       capture_output=True, text=True)
    if not mounted or mounted.returncode != 0:
        why = mounted.stderr.strip() if mounted else "no mount command"
        reason = f"cannot mount a tmpfs here ({why or 'mount failed'}; needs root or CAP_SYS_ADMIN)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield where
    finally:
        # Lazy: background threads may still hold a file open; they stop once it is gone.
        subprocess.run(["umount", "-l", str(where)], check=False)


class Filler:
    """Takes every free page of a file system, and gives them back."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler"

    def fill(self) -> None:
        block = b"\0" * (64 * 1024)
        with open(self.path, "ab", buffering=0) as out:
            for size in (len(block), 4096, 512, 1):
                try:
                    while True:
                        out.write(block[:size])
                except OSError:
                    continue

    def free(self) -> None:
        self.path.unlink()


def batch(n: int = 20) -> list[dict]:
    return [{"type": "track", "event": "Song Played", "userId": f"u{i % 3}", "messageId": uuid.uuid4().hex,
             "properties": {"artist": "Björk", "notes": "x" * 500}} for i in range(n)]


def ingest(server, key: str, events: list[dict]):
    return http("POST", server.url + "/v1/batch", json.dumps({"batch": events}).encode(),
                {"Content-Type": "application/json", **basic(key)})


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def stored_ids(store: str) -> set[str]:
    con = sqlite3.connect(store)
    try:
        return {row[0] for row in con.execute("SELECT message_id FROM event")}
    finally:
        con.close()


def truncate_wals(store: str) -> None:
    """Empty the store's and the keys file's WAL, so the next commit needs new pages."""
    con = sqlite3.connect(store, timeout=10)
    try:
        con.execute("ATTACH DATABASE ? AS keys", (store + "-keys",))
        for schema in ("main", "keys"):
            busy, _, _ = con.execute(f"PRAGMA {schema}.wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
    finally:
        con.close()


def assert_storage_full(reply) -> None:
    assert reply.status == 507, (reply.status, reply.body)
    assert int(reply.headers["Retry-After"]) > 0
    error = reply.json()["error"]
    assert error["code"] == "storage_full"
    assert error["request_id"] == reply.headers["X-Request-Id"]


def test_full_disk_answers_507_with_retry_after_and_recovers_without_loss(small_disk):
    instance = small_disk / "instance"
    app = create_app({"INSTANCE_PATH": str(instance), "TESTING": True})
    store = app.config["DATABASE_URL"][len("sqlite:///"):]
    tenant = make_tenant("Soundwave", share_base_url="https://soundwave.app")
    server = LiveServer(app).start()
    filler = Filler(small_disk)
    try:
        before = [dict(e, messageId=uuid.uuid4().hex) for e in plays("ana", 40)] + batch()
        assert ingest(server, tenant.write_key, before).status == 200
        token = viewer_token(server, tenant.secret_key, "ana")
        made = http("POST", server.url + "/v1/shares", json.dumps({"template": "year-in-music"}).encode(),
                    {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        assert made.status == 201, made.body
        card = urlsplit(made.json()["images"]["og"]).path
        truncate_wals(store)
        keys_before = (instance / "secret_keys").read_bytes()
        filler.fill()

        refused = batch()
        assert_storage_full(ingest(server, tenant.write_key, refused))
        assert_storage_full(http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": "u1"}).encode(),
                                 {"Content-Type": "application/json", **basic(tenant.secret_key)}))
        assert_storage_full(http("POST", server.url + "/v1/users/erase", json.dumps({"user_id": "u1"}).encode(),
                                 {"Content-Type": "application/json", **basic(tenant.secret_key)}))
        assert_storage_full(http("POST", server.url + "/v1/uploads", png_bytes(),
                                 {"Content-Type": "image/png", **basic(tenant.secret_key)}))
        assert not list((instance / "uploads").iterdir())  # no 0-byte or partial picture
        assert_storage_full(http("GET", server.url + card))  # the card cannot be kept on disk
        assert not [p for p in (instance / "share_cache").rglob("*") if p.is_file()]
        rotated = app.test_cli_runner().invoke(args=["keys", "rotate-signing"])
        assert rotated.exit_code != 0
        assert (instance / "secret_keys").read_bytes() == keys_before
        assert not [p.name for p in instance.iterdir() if p.name.endswith(".tmp")]

        filler.free()  # space comes back: the same server takes writes again
        after = batch()
        assert ingest(server, tenant.write_key, after).status == 200
        retried = ingest(server, tenant.write_key, refused)  # the client's retry of the refused batch
        assert retried.status == 200 and retried.json()["stored"] == len(refused)
        upload = http("POST", server.url + "/v1/uploads", png_bytes(),
                      {"Content-Type": "image/png", **basic(tenant.secret_key)})
        assert upload.status == 201, upload.body
        assert [p.name for p in (instance / "uploads").iterdir()] == [upload.json()["url"].rsplit("/", 1)[1]]
        assert http("GET", server.url + card).status == 200
        assert {e["messageId"] for e in before + refused + after} == stored_ids(store)
    finally:
        server.stop()
        if filler.path.exists():
            filler.free()
        if not database.is_closed():
            database.close()
        database.obj.close_all()
