"""Files holding personal data are the server user's alone: 0600 files in 0700 folders, whatever
the umask, for a new instance folder and for one an older version left readable."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from helpers.server import LiveServer, basic, http
from helpers.share import png_bytes, share
from widget_server import create_app
from widget_server.store.db import database


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)  # the usual default: files 0644 and folders 0755 unless made otherwise
    yield
    os.umask(old)


def modes(instance: Path) -> dict[str, int]:
    """Every file and folder under ``instance`` (relative name) and its permission bits."""
    found = {".": stat.S_IMODE(instance.stat().st_mode)}
    for path in instance.rglob("*"):
        found[str(path.relative_to(instance))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(instance: Path) -> None:
    found = modes(instance)
    loose = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (instance / name).is_dir() else 0o600)}
    assert not loose, loose


@pytest.mark.fresh_store  # every file the server makes, the store too
def test_everything_the_server_writes_is_private(app, live_server, soundwave):
    instance = Path(app.instance_path)
    made = share(live_server, soundwave)
    for url in made["images"].values():
        assert http("GET", url).status == 200  # renders the cards into share_cache/
    upload = http("POST", live_server.url + "/v1/uploads", png_bytes(),
                  {"Content-Type": "image/png", **basic(soundwave.secret_key)})
    assert upload.status == 201
    names = set(modes(instance))
    for expected in ("recap.sqlite3", "recap.sqlite3-wal", "recap.sqlite3-shm", "recap.sqlite3-keys",
                     "recap.sqlite3-keys-wal", "recap.sqlite3-write.lock", "start.lock", "secret_keys",
                     "uploads", "share_cache"):
        assert expected in names
    assert any(name.startswith("share_cache/") and name.endswith(".png") for name in names)
    assert any(name.startswith("uploads/") for name in names)
    assert_private(instance)


def test_an_instance_left_readable_is_made_private_at_start(tmp_path):
    instance = tmp_path / "instance"
    first = create_app({"INSTANCE_PATH": str(instance), "TESTING": True})
    server = LiveServer(first).start()
    try:
        assert http("POST", server.url + "/v1/batch", b'{"batch": []}',
                    {"Content-Type": "application/json"}).status == 401  # a request: WAL and SHM exist
    finally:
        server.stop()
        database.close() if not database.is_closed() else None
    (instance / "uploads").mkdir()
    (instance / "config.py").write_text("DEFAULT_TIMEZONE = 'UTC'\n")
    for path in [instance, *instance.rglob("*")]:  # as an older version (or a careless copy) left them
        os.chmod(path, 0o755 if path.is_dir() else 0o644)

    create_app({"INSTANCE_PATH": str(instance), "TESTING": True})
    database.close() if not database.is_closed() else None
    assert_private(instance)


def test_a_store_outside_the_instance_folder_is_private_too(tmp_path):
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    store = elsewhere / "recap.sqlite3"
    create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                "DATABASE_URL": f"sqlite:///{store}"})
    database.close() if not database.is_closed() else None
    for name in ("recap.sqlite3", "recap.sqlite3-keys"):
        assert stat.S_IMODE((elsewhere / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755  # the operator's folder is left as it is
