"""Audiences: named, versioned sets of an app's users, defined in the template metric language
and computed in SQL for all of them (docs/AUDIENCES.md).

    definition.py  an audience's text validated (AudienceSchema, AudienceInvalid naming each key path)
    store.py       an app's audiences in the database, versioned; the latest is computed
    builtin.py     likely_to_churn, from churn prediction's scores
    refresh.py     members computed in chunks (the engine's metric SQL, then ``when``), stored per refresh
    membership.py  the stored members paged, counts over time, and who is in an audience for eligibility
                   and triggers (engine/memberships.py), computed again when stale
    routes.py      /v1/audiences (secret key)
    cli.py         recap audiences
"""
from __future__ import annotations

from flask import Flask

from ..engine import memberships
from . import cli, membership, routes


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    cli.init_app(app)
    memberships.register(membership.members)
