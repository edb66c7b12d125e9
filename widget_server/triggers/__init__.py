"""Triggers: telling the right users at the right moment, from what they did (docs/TRIGGERS.md).

    definition.py    a trigger's text validated (TriggerSchema, TriggerInvalid naming each key path)
    webhook_urls.py  where a trigger may send: https to public addresses, checked again at delivery
    store.py         an app's triggers in the database, versioned; the latest acts
    events.py        ingest's events that start triggers, put on the queue (never evaluated in the request)
    fan_out.py       an event's fan-out over the app's users, in chunk jobs, once per cause
    audience.py      a chunk's metrics (the engine's SQL), audience and messages; opted-out users left out
    respect.py       daily caps and quiet hours in the user's own time
    stories.py       stories becoming available, to the users eligible for them
    deliveries.py    one delivery per (trigger, user, cause); posting, retrying with backoff, every attempt
    webhooks.py      the payload, its signature and the POST to the checked address
    dry_run.py       how many users a trigger would notify now, and five messages
    funnel.py        sent → delivered → opened → story completed → shared, per trigger
    routes.py        /v1/triggers (secret key)
    cli.py           recap triggers
"""
from __future__ import annotations

from flask import Flask

from ..ingest.routes import on_stored
from . import cli, events, routes


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    cli.init_app(app)
    on_stored(app, events.notice)
