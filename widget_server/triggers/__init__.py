"""Triggers: telling the right users at the right moment, from what they did (docs/TRIGGERS.md).

    definition.py    a trigger's text validated (TriggerSchema, TriggerInvalid naming each key path)
    webhook_urls.py  where a trigger may send: https to public addresses, checked again at delivery
    store.py         an app's triggers in the database, versioned; the latest acts
    routes.py        /v1/triggers (secret key)
    cli.py           recap triggers
"""
from __future__ import annotations

from flask import Flask

from . import cli, routes


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    cli.init_app(app)
