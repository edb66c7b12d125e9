"""Configuration: defaults < instance ``config.py`` < ``RECAP_*`` environment variables."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask

DEFAULTS = {
    # Filled in from the instance folder when left empty.
    "DATABASE_URL": None,
    "SECRET_KEYS": None,
    # Absolute base used in share links and Open Graph tags; None means "the request's host".
    "PUBLIC_BASE_URL": None,
    # Ingest limits (DESIGN.md, "Wire protocol"). The batch limit applies after gzip is undone,
    # and inflating stops as soon as it is passed, so a gzip bomb costs nothing.
    "MAX_BATCH_BYTES": 500 * 1024,
    "MAX_EVENT_BYTES": 32 * 1024,
    "MAX_EVENTS_PER_BATCH": 2500,
    # What one end user's viewer token may send (the player's own track events): events per
    # request, and a bucket per user of VIEWER_EVENTS_BURST refilled at VIEWER_EVENTS_PER_MINUTE.
    "VIEWER_MAX_EVENTS_PER_BATCH": 200,
    "VIEWER_EVENTS_BURST": 600,
    "VIEWER_EVENTS_PER_MINUTE": 60,
    # Requests that may write at once per process before the rest get 429.
    "INGEST_CONCURRENCY": 8,
    # How long a write waits for another writer of the SQLite file before ingest answers 429.
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "VIEWER_TOKEN_TTL": 3600,
    "DEFAULT_TIMEZONE": "UTC",
}

SECRET_KEYS_FILE = "secret_keys"


def instance_path_from_env() -> str | None:
    path = os.environ.get("RECAP_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def load(app: Flask, test_config: dict | None) -> None:
    """Fill ``app.config`` in order of precedence and derive what was left empty."""
    app.config.from_mapping(DEFAULTS)
    app.json.sort_keys = False  # answers keep the order they are built in (Flask 3 has no config key)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("RECAP", loads=_loads)
    else:
        app.config.from_mapping(test_config)

    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "recap.sqlite3")
    keys = app.config["SECRET_KEYS"]
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    app.config["SECRET_KEYS"] = keys or read_or_create_secret_keys(Path(app.instance_path))
    # Flask's own sessions are unused, but give it the newest key so extensions behave.
    app.config["SECRET_KEY"] = app.config["SECRET_KEYS"][-1]
    if app.config["PUBLIC_BASE_URL"]:
        app.config["PUBLIC_BASE_URL"] = app.config["PUBLIC_BASE_URL"].rstrip("/")


def _loads(value: str):
    """Environment values are plain strings unless they are clearly numbers."""
    try:
        return int(value)
    except ValueError:
        return value


def read_or_create_secret_keys(instance: Path) -> list[str]:
    """Signing keys live in the instance folder, oldest first, newest (the signing one) last."""
    path = instance / SECRET_KEYS_FILE
    if path.exists():
        keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if keys:
            return keys
    return add_secret_key(instance)


def add_secret_key(instance: Path) -> list[str]:
    """Append a new signing key; older keys keep verifying until removed from the file."""
    path = instance / SECRET_KEYS_FILE
    keys = []
    if path.exists():
        keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    keys.append(secrets.token_urlsafe(48))
    instance.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=instance, prefix=SECRET_KEYS_FILE + ".")  # mode 0600
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(keys) + "\n")
    os.replace(tmp, path)
    return keys
