"""Audiences on PostgreSQL: the same refresh finds exactly the lapsed users this test counts, the
members page the same way, and the story admits exactly them."""
from __future__ import annotations

import threading

from helpers.audiences import LAPSED, USERS, get, listening_history, put, story_template, walk
from helpers.postgres import new_database
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.story import send
from helpers.triggers import cli
from widget_server import create_app
from widget_server.audiences import refresh
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
        # Two refreshes at once (the hourly job on two workers, the command beside them): both
        # commit, one after the other, and the members are replaced, not added to.
        done = []

        def refreshing() -> None:
            with app.app_context(), database.connection_context():
                done.append(refresh.refresh(tenant.app_id, "lapsed"))
        both = [threading.Thread(target=refreshing) for _ in range(2)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join(60)
        assert done == [len(lapsed)] * 2
        assert walk(server, tenant.secret_key, "lapsed", 500) == sorted(lapsed)
        assert [c["members"] for c in get(server, tenant.secret_key, "/v1/audiences/lapsed").json()["counts"]] == [
            len(lapsed)] * 3
        saved = http("PUT", f"{server.url}/v1/templates/year-in-music?publish=true", story_template().encode(),
                     {"Content-Type": "application/toml", **basic(tenant.secret_key)})
        assert saved.status in (200, 201), saved.body
        admitted = {f"user-{u:03d}" for u in range(USERS)
                    if get(server, tenant.secret_key, f"/v1/stories/year-in-music?user_id=user-{u:03d}").status == 200}
        assert admitted == lapsed
    finally:
        server.stop()
        database.close() if not database.is_closed() else None
