"""Taps on Share that reach two server processes at once: one card, one share, one URL.

Each process makes a user's shares one at a time, but it cannot see the other's: before the
database kept one live share per card (``Share.live_key``), both made one.
"""
from __future__ import annotations

import threading

from demo_app.server import WidgetServer
from helpers.player import viewer_token
from helpers.server import make_tenant
from helpers.share import bearer, plays, post_json
from helpers.story import send
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.models import Share

USERS, TAPS = 10, 8


def taps(server, headers: dict) -> list:
    """``TAPS`` share requests for one user's card, sent at once, each on a new connection."""
    start, replies = threading.Barrier(TAPS), []

    def tap() -> None:
        start.wait()
        replies.append(post_json(server, "/v1/shares", {"template": "year-in-music"}, headers))

    threads = [threading.Thread(target=tap) for _ in range(TAPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return replies


def test_taps_reaching_two_processes_make_one_share_of_one_card(tmp_path):
    instance = tmp_path / "instance"
    create_app({"INSTANCE_PATH": str(instance)})
    tenant = make_tenant("Soundwave", share_base_url="https://soundwave.app")
    database.close()
    server = WidgetServer(instance, workers=2, threads=4).start()
    try:
        users = [f"listener{i}" for i in range(USERS)]
        send(server, tenant.write_key, [event for user in users for event in plays(user, 30)])
        # The ranks on the cards, computed before: a first story starts computing them, and a card
        # that gains its rank between two taps is another card, rightly shared apart.
        refreshed = create_app({"INSTANCE_PATH": str(instance)}).test_cli_runner().invoke(
            args=["population", "refresh", "year-in-music", "--app", tenant.name])
        assert refreshed.exit_code == 0, refreshed.output
        database.close()
        answers = {user: taps(server, bearer(viewer_token(server, tenant, user))) for user in users}
    finally:
        server.stop()
    for user, replies in answers.items():
        assert sorted(r.status for r in replies) == [200] * (TAPS - 1) + [201], (user, [r.body for r in replies])
        assert len({r.json()["url"] for r in replies}) == 1, user
    create_app({"INSTANCE_PATH": str(instance)})
    with database.connection_context():
        made = {user: Share.select().where(Share.user_id == user).count() for user in answers}
    assert made == {user: 1 for user in answers}
