"""The demo instance folder: its two apps, their keys, and what has been generated into it."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from widget_server import create_app
from widget_server.auth import create_key, rotate_key
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App

from . import learning, music

log = logging.getLogger(__name__)

STATE_FILE = "demo.json"  # keys and generation record; mode 0600, like the signing keys


@dataclass
class DemoApp:
    """One demo app as the demo's own back end knows it: id, keys and its story template."""

    kind: str  # "music" or "learning"
    name: str
    app_id: int
    write_key: str
    secret_key: str
    template: str
    prefix: str  # user ids look like "<prefix>-0001"

    @property
    def showcase_user(self) -> str:
        return f"{self.prefix}-0000"


APPS = {
    "music": (music, "sw"),
    "learning": (learning, "lg"),
}


def server_app(instance: Path) -> Flask:
    """The widget server's Flask app on the instance's embedded SQLite database."""
    return create_app({"INSTANCE_PATH": str(instance)})


def read_state(instance: Path) -> dict[str, Any]:
    path = instance / STATE_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s", path)
        return {}


def write_state(instance: Path, state: dict[str, Any]) -> None:
    path = instance / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, path)


def ensure_apps(instance: Path) -> dict[str, DemoApp]:
    """Create Soundwave and Lingo with keys, or reuse them (and their keys) from an earlier run.

    Keys are stored only as hashes, so the demo keeps its copy in the instance folder; if that
    copy is lost while the app remains, new keys are issued and the old ones revoked.
    """
    server_app(instance)  # creates the folder, the database and its schema
    state = read_state(instance)
    known = state.get("apps", {})
    apps: dict[str, DemoApp] = {}
    with database.connection_context():
        for kind, (module, prefix) in APPS.items():
            row = App.get_or_none(App.name == module.APP_NAME)
            saved = known.get(kind)
            if row is not None and saved and saved.get("app_id") == row.id:
                apps[kind] = DemoApp(**saved)
                continue
            with database.atomic():
                if row is None:
                    row = App.create(name=module.APP_NAME, deep_link_scheme=module.DEEP_LINK_SCHEME,
                                     brand=module.BRAND)
                    write, secret = create_key(row, ApiKey.WRITE), create_key(row, ApiKey.SECRET)
                    # A new app has no events, whatever an earlier run recorded.
                    state.pop("generated", None)
                else:
                    write, secret = rotate_key(row, ApiKey.WRITE), rotate_key(row, ApiKey.SECRET)
            apps[kind] = DemoApp(kind, row.name, row.id, write, secret, module.TEMPLATE, prefix)
    database.close() if not database.is_closed() else None
    state["apps"] = {kind: asdict(app) for kind, app in apps.items()}
    write_state(instance, state)
    return apps
