"""Configuration: defaults < instance ``config.py`` < ``RECAP_*`` environment variables."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from .store import private_files
from .store.models import now_ms

DEFAULTS = {
    # Filled in from the instance folder when left empty.
    "DATABASE_URL": None,
    "SECRET_KEYS": None,
    # Absolute base of share links, their images and QR codes, and upload URLs. Unset, links use
    # the request's host only when it is on TRUSTED_HOSTS (or a loopback host under debug or
    # testing); otherwise minting a link is refused (share/public_url.py).
    "PUBLIC_BASE_URL": None,
    # Host names this server answers to (Flask refuses others with 400), comma-separated in
    # RECAP_TRUSTED_HOSTS; None answers any host but never trusts it for links.
    "TRUSTED_HOSTS": None,
    # Ingest limits (DESIGN.md, "Wire protocol"). The batch limit applies after gzip is undone,
    # and inflating stops as soon as it is passed, so a gzip bomb costs nothing.
    "MAX_BATCH_BYTES": 500 * 1024,
    "MAX_EVENT_BYTES": 32 * 1024,
    "MAX_EVENTS_PER_BATCH": 2500,
    # How long an ingest request may have waited for a worker (as the front stamped it,
    # X-Request-Start) before it is refused with 429 unread (load_shedding.py).
    "INGEST_MAX_QUEUE_MS": 1000,
    # What one end user's viewer token may send (the player's own track events): events per
    # request, and a bucket per user of VIEWER_EVENTS_BURST refilled at VIEWER_EVENTS_PER_MINUTE.
    "VIEWER_MAX_EVENTS_PER_BATCH": 200,
    "VIEWER_EVENTS_BURST": 600,
    "VIEWER_EVENTS_PER_MINUTE": 60,
    # How long a write waits for another writer of the SQLite file before ingest answers 429.
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "VIEWER_TOKEN_TTL": 3600,
    "STUDIO_SESSION_SECONDS": 30 * 60,  # a studio login lasts this long without a sign-in again
    "STUDIO_LOGINS_PER_MINUTE": 10,    # sign-in attempts one address may make
    "DEFAULT_TIMEZONE": "UTC",
    # Sharing (docs/SHARING.md) and uploads.
    "SHARE_TTL": 180 * 24 * 3600,  # seconds a share link lives
    # Seconds an expired or revoked share still answers 410 before it and its images are deleted.
    "SHARE_KEEP_ENDED": 7 * 24 * 3600,
    "SHARE_CAPTION_MAX": 140,  # characters
    # What one end user may share (share/limits.py): shares per window per user, and live shares
    # per user and template. Past either: 429 with Retry-After.
    "SHARE_RATE_LIMIT": 10,
    "SHARE_RATE_WINDOW": 60,  # seconds
    "SHARE_MAX_LIVE": 20,
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    # Pixels an upload may declare before it is decoded: a 40 MP photo decodes to ~120 MB;
    # anything more is refused unread, which is what stops decompression bombs.
    "UPLOAD_MAX_PIXELS": 40_000_000,
    "UPLOAD_MAX_SIDE": 2048,  # stored uploads are scaled down to this many pixels at most
    # Clock for expiry, in ms since the epoch; tests swap it instead of sleeping.
    "SHARE_CLOCK": now_ms,
    # Operations (docs/OPERATIONS.md): "text" or "json" (one object per line) logs; the Bearer
    # token GET /metrics asks for when set; how long /readyz waits for the database, and how old
    # the oldest event not yet indexed may be before the server is not ready.
    "LOG_FORMAT": "text",
    "METRICS_TOKEN": None,
    "READY_TIMEOUT_SECONDS": 2,
    "READY_MAX_INDEX_LAG_SECONDS": 60,
    # The job queue (widget_server/jobs/, docs/JOBS.md). Unset: huey on SQLite in the instance
    # folder (queue.sqlite3), consumed by `recap run` itself; redis://host:port/db: huey on Redis,
    # shared by every `recap worker` on every machine.
    "QUEUE_URL": None,
    # A failing job runs again this many times, JOB_RETRY_DELAY seconds later, the wait doubling
    # each time (2, 4, 8 s); then it is kept as failed, with its reason, for `recap jobs retry`.
    "JOB_RETRIES": 3,
    "JOB_RETRY_DELAY": 2,
    # Seconds a worker holds a chunk of a story build: a chunk still not done when its claim runs
    # out (its worker was killed) is enqueued again. Longer than any chunk takes (~0.3 s).
    "BUILD_CHUNK_LEASE": 60,
    # Days a finished story build's rows (its chunks list every user id it built) are kept for
    # `recap jobs` and its report; the prune_builds chore deletes older ones, 50 builds a run.
    "BUILD_KEEP_DAYS": 30,
    # Triggers (docs/TRIGGERS.md): webhooks may go to http://127.0.0.1 or localhost only when set
    # (RECAP_WEBHOOK_ALLOW_LOCAL=1); private and link-local addresses are refused whatever it says.
    "WEBHOOK_ALLOW_LOCAL": False,
    # Notifications one user may get in a day from all of an app's triggers (each trigger has its
    # own limit too); a refused delivery is tried again TRIGGER_RETRY_DELAY seconds later, the wait
    # doubling up to TRIGGER_RETRY_MAX_DELAY, until TRIGGER_RETRY_HOURS after it was made.
    "TRIGGERS_PER_USER_PER_DAY": 3,
    "TRIGGER_RETRY_DELAY": 30,
    "TRIGGER_RETRY_MAX_DELAY": 3600,
    "TRIGGER_RETRY_HOURS": 24,
    "TRIGGER_WEBHOOK_TIMEOUT": 10,  # seconds a receiver has to answer
    # A delivery whose next attempt is this overdue lost its job (a killed worker): enqueued again.
    "TRIGGER_STALL_SECONDS": 600,
    # Seconds a worker holds a fan-out's chunk (as BUILD_CHUNK_LEASE a build's): one not done by
    # then (its worker was killed) is enqueued again by the resume_trigger_chunks chore.
    "TRIGGER_CHUNK_LEASE": 60,
    "TRIGGER_CLOCK": now_ms,  # triggers' clock (days, quiet hours, retries), ms; tests swap it
    # Seconds `recap worker` waits on SIGTERM for running jobs to finish; the ones still running
    # then are interrupted and enqueued again.
    "WORKER_STOP_TIMEOUT": 30,
}

SECRET_KEYS_FILE = "secret_keys"
KEYS_SOURCE = "recap.signing_keys"  # app.extensions entry: the keys file and its last stamp


def instance_path_from_env() -> str | None:
    path = os.environ.get("RECAP_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` in order of precedence and derive what was left empty."""
    app.config.from_mapping(DEFAULTS)
    if isinstance(app.json, DefaultJSONProvider):  # (Flask's own, the one in use)
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
    if keys:
        _use_keys(app, keys)
    else:  # the instance file: re-read whenever it changes (signing_keys)
        path = Path(app.instance_path) / SECRET_KEYS_FILE
        stamp = _stamp(path)  # before reading: a change made meanwhile is then read again
        _use_keys(app, read_or_create_secret_keys(Path(app.instance_path)))
        app.extensions[KEYS_SOURCE] = {"path": path, "stamp": stamp}
    if app.config["PUBLIC_BASE_URL"]:
        app.config["PUBLIC_BASE_URL"] = app.config["PUBLIC_BASE_URL"].rstrip("/")
    hosts = app.config["TRUSTED_HOSTS"]
    if isinstance(hosts, str):
        app.config["TRUSTED_HOSTS"] = [h.strip() for h in hosts.split(",") if h.strip()] or None


def _loads(value: str) -> int | str:
    """Environment values are plain strings unless they are clearly numbers."""
    try:
        return int(value)
    except ValueError:
        return value


def _use_keys(app: Flask, keys: list[str]) -> None:
    app.config["SECRET_KEYS"] = keys
    # Flask's own sessions are unused, but give it the newest key so extensions behave.
    app.config["SECRET_KEY"] = keys[-1]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


def signing_keys(app: Flask) -> list[str]:
    """The keys that sign (newest, last) and verify tokens and share links.

    Keys from the instance's ``secret_keys`` file are read again as soon as the file changes
    (one ``stat`` per call; ``recap keys rotate-signing`` replaces the file), so servers that
    were not restarted verify tokens signed with a new key and sign with it themselves. Keys
    given in ``RECAP_SECRET_KEYS`` change only with a restart.
    """
    source = app.extensions.get(KEYS_SOURCE)
    if source is not None:
        stamp = _stamp(source["path"])
        if stamp is not None and stamp != source["stamp"]:
            keys = _read_keys(source["path"])
            if keys:  # a file emptied by hand keeps the keys in use
                _use_keys(app, keys)
            source["stamp"] = stamp
    in_use: list[str] = app.config["SECRET_KEYS"]
    return in_use


def _read_keys(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_or_create_secret_keys(instance: Path) -> list[str]:
    """Signing keys live in the instance folder, oldest first, newest (the signing one) last."""
    path = instance / SECRET_KEYS_FILE
    keys = _read_keys(path) if path.exists() else []
    return keys or add_secret_key(instance)


def add_secret_key(instance: Path) -> list[str]:
    """Append a new signing key; older keys keep verifying until removed from the file."""
    path = instance / SECRET_KEYS_FILE
    keys = _read_keys(path) if path.exists() else []
    keys.append(secrets.token_urlsafe(48))
    private_files.make_dir(instance)
    private_files.write_file(path, ("\n".join(keys) + "\n").encode())
    return keys
