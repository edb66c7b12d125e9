"""Numbers sent as strings: every metric that reads a number reads ``"5000"`` as 5000 and ignores
what is not a number (names, booleans, "12 km", JSON5 spellings, a string past a double's range),
the same on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.postgres import new_database
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.share import bearer, post_json
from helpers.story import NOW, app_template, ms, send, track, viewer_token
from widget_server import create_app
from widget_server.engine import parse, resolve_period
from widget_server.engine.metrics import compute
from widget_server.engine.users import actor_pairs
from widget_server.store.db import database

TEMPLATE = """
id = "distances"
title = "Distances"
[period]
kind = "year"
cutoff = "11-15"
[metrics.longest]
kind = "max"
event = "Run"
property = "distance_m"
[metrics.longest_km]
kind = "max"
event = "Run"
property = "distance_m"
scale = 0.001
[metrics.shortest]
kind = "min"
event = "Run"
property = "distance_m"
[metrics.total_km]
kind = "sum"
event = "Run"
property = "distance_m"
scale = 0.001
[metrics.mean]
kind = "avg"
event = "Run"
property = "distance_m"
[metrics.long_runs]
kind = "count"
event = "Run"
where = { distance_m = { gt = 4000 } }
[metrics.exactly_5k]
kind = "count"
event = "Run"
where = { distance_m = 5000 }
[metrics.by_month]
kind = "series"
event = "Run"
by = "month"
property = "distance_m"
[metrics.best_day]
kind = "record_day"
event = "Run"
property = "distance_m"
[metrics.by_route]
kind = "top"
event = "Run"
property = "route"
by = "sum"
sum_property = "distance_m"
[metrics.level]
kind = "tier"
of = "longest_km"
tiers = [{ min = 0, label = "jogger" }, { min = 10, label = "runner" }]
[[frames]]
id = "longest"
kind = "stat"
stat = { value = "{{ longest_km }}", unit = "km" }
[card]
title = "{{ total_km }} km"
"""

# (distance_m, day in March): five numbers, then what is not one.
RUNS = [("5000", 1), (12000, 2), (3.5, 3), ("-2.5e1", 4), ("1e2", 5),
        ("abc", 6), (True, 7), ("12 km", 8), (" 7", 9), ("+5", 10), ("0x10", 11), ("1e400", 12),
        ("07", 13), (".5", 14), ("5.", 15), ("NaN", 16), ("Infinity", 17), ("9" * 41, 18)]
NUMBERS = [5000, 12000, 3.5, -25, 100]


def expected() -> dict:
    return {"longest": 12000, "longest_km": 12, "shortest": -25, "total_km": 17.0785,
            "mean": sum(NUMBERS) / len(NUMBERS), "long_runs": 2, "exactly_5k": 1, "level": "runner",
            "best_day": {"date": "2026-03-02", "value": 12000, "weekday": "Monday", "label": "2 March"},
            "march": sum(NUMBERS), "by_route": [("hill", 12000), ("river", 5000 + 3.5 - 25 + 100)]}


def _metrics(app, tenant) -> dict:
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["ada"]), NOW)["ada"]
    return {**{k: got[k] for k in ("longest", "longest_km", "shortest", "total_km", "mean", "long_runs",
                                    "exactly_5k", "level", "best_day")},
            "march": got["by_month"]["values"][2],
            "by_route": [(item["label"], item["value"]) for item in got["by_route"]]}


def _runs() -> list[dict]:
    return [track("ada", "Run", ms(f"2026-03-{day:02d}T12:00:00"),
                  {"distance_m": value, "route": "hill" if value == 12000 else "river"})
            for value, day in RUNS]


def _serve(instance: Path, database_url: str | None):
    config = {"INSTANCE_PATH": str(instance), "TESTING": True}
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    tenant = make_tenant("Runner", timezone="UTC", share_base_url="https://runner.example")
    app_template(app.instance_path, tenant.app_id, "distances", TEMPLATE)
    return app, tenant


def test_numeric_strings_count_as_their_numbers_and_the_rest_is_ignored(app, live_server):
    tenant = make_tenant("Runner", timezone="UTC")
    send(live_server, tenant.write_key, _runs())
    got = _metrics(app, tenant)
    want = expected()
    assert got.pop("mean") == pytest.approx(want.pop("mean"))
    assert got.pop("total_km") == pytest.approx(want.pop("total_km"))
    assert got.pop("by_route") == [(label, pytest.approx(v)) for label, v in want.pop("by_route")]
    assert got == want


def test_a_scaled_metric_over_numeric_strings_serves_the_story_and_builds(tmp_path):
    """It answered 500 (the story and POST /v1/shares), ``stories build`` stopped for everyone and
    ``templates check --app`` crashed."""
    app, tenant = _serve(tmp_path / "instance", None)
    server = LiveServer(app).start()
    try:
        send(server, tenant.write_key, _runs())
        reply = http("GET", f"{server.url}/v1/stories/distances?user_id=ada", None, basic(tenant.secret_key))
        assert reply.status == 200, reply.body
        assert reply.json()["frames"][0]["stat"]["value"] == "12"
        shared = post_json(server, "/v1/shares", {"template": "distances"},
                           bearer(viewer_token(server, tenant.secret_key, "ada")))
        assert shared.status == 201, shared.body
        result = app.test_cli_runner().invoke(args=["stories", "build", "--inline", "distances", "--app", "Runner",
                                                    "--now", NOW.date().isoformat()])
        assert result.exit_code == 0, result.output
        template_file = Path(app.instance_path) / "templates" / str(tenant.app_id) / "distances.toml"
        checked = app.test_cli_runner().invoke(args=["templates", "check", str(template_file), "--app", "Runner"])
        assert checked.exit_code == 0 and "dry run on 1 users: 1 eligible" in checked.output, checked.output
    finally:
        server.stop()
        database.close() if not database.is_closed() else None


def test_numeric_strings_read_the_same_on_postgresql(postgres, tmp_path):
    answers = {}
    for backend in ("sqlite", "postgresql"):
        url = new_database(postgres, "recap_numbers") if backend == "postgresql" else None
        app, tenant = _serve(tmp_path / backend, url)
        server = LiveServer(app).start()
        try:
            send(server, tenant.write_key, _runs())
            answers[backend] = json.loads(json.dumps(_metrics(app, tenant)))
        finally:
            server.stop()
            database.close() if not database.is_closed() else None
    assert answers["postgresql"] == answers["sqlite"]
    assert answers["sqlite"]["longest"] == 12000


def test_a_sum_past_64_bits_is_a_story_not_an_error(app, live_server):
    # Each number fits 64 bits (ingest refuses those that do not), but their sum need not: SQLite's
    # SUM of integers raised "integer overflow", and the story answered 500.
    tenant = make_tenant("Runner", timezone="UTC")
    app_template(app.instance_path, tenant.app_id, "distances", TEMPLATE)
    big = 2 ** 63 - 1
    send(live_server, tenant.write_key, [track("ada", "Run", ms(f"2026-03-0{day}T12:00:00"),
                                               {"distance_m": big, "route": "hill"}) for day in (1, 2)])
    reply = http("GET", f"{live_server.url}/v1/stories/distances?user_id=ada", None, basic(tenant.secret_key))
    assert reply.status == 200, reply.body
    got = _metrics(app, tenant)
    assert got["total_km"] == pytest.approx(2 * big * 0.001)
    assert got["by_route"] == [("hill", pytest.approx(2 * big))]
