"""Audiences on PostgreSQL: the same refresh finds exactly the lapsed users this test counts, the
members page the same way, and the story admits exactly them."""
from __future__ import annotations

from helpers.audiences import LAPSED, USERS, get, listening_history, put, story_template, walk
from helpers.postgres import new_database
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.story import send
from helpers.triggers import cli
from widget_server import create_app
from widget_server.store.db import database


def test_an_audience_is_the_same_on_postgresql(postgres, tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "DATABASE_URL": new_database(postgres, "audiences")})
    server = LiveServer(app).start()
    try:
        tenant = make_tenant("Soundwave")
        events, lapsed = listening_history()
        send(server, tenant.write_key, events)
        assert put(server, tenant.secret_key, "lapsed", LAPSED).status == 201
        assert cli(app, "audiences", "refresh", "--app", "Soundwave").output == f"lapsed\t{len(lapsed)} members\n"
        assert walk(server, tenant.secret_key, "lapsed", 5) == sorted(lapsed)
        assert cli(app, "audiences", "refresh", "--app", "Soundwave").exit_code == 0  # replaced, not added to
        assert walk(server, tenant.secret_key, "lapsed", 500) == sorted(lapsed)
        saved = http("PUT", f"{server.url}/v1/templates/year-in-music?publish=true", story_template().encode(),
                     {"Content-Type": "application/toml", **basic(tenant.secret_key)})
        assert saved.status in (200, 201), saved.body
        admitted = {f"user-{u:03d}" for u in range(USERS)
                    if get(server, tenant.secret_key, f"/v1/stories/year-in-music?user_id=user-{u:03d}").status == 200}
        assert admitted == lapsed
    finally:
        server.stop()
        database.close() if not database.is_closed() else None
