"""Tenants, the app served on a free loopback port, and one real HTTP request."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from flask import Flask

from demo_app.serving import WSGIInThread
from widget_server.auth import create_key
from widget_server.store.db import database
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


class LiveServer(WSGIInThread):
    """The app served by werkzeug on a free loopback port, in a thread."""

    def __init__(self, app: Flask, port: int = 0):
        self.app = app
        super().__init__(app, port, name="live-server")


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 10) -> Reply:
    """One real HTTP request; error statuses are returned, not raised."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def basic(key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
