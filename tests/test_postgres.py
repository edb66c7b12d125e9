"""The same code on PostgreSQL (DESIGN.md, "Scale"): the demo's year of events, sent over HTTP
to a server on SQLite and to one on a real PostgreSQL, gets the same answers, stories, shares
and precomputed stories. PostgreSQL runs from Debian's package (``scripts/test.sh`` installs
it), in a throw-away cluster on a loopback port."""
from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from demo_app import learning, music
from demo_app.catalog import build_catalog
from demo_app.people import make_people
from helpers.postgres import new_database
from helpers.server import LiveServer, basic, http, make_tenant
from helpers.share import bearer, post_json
from helpers.start import start_together
from helpers.story import app_template, viewer_token
from widget_server import create_app
from widget_server.store.db import database

USERS, SEED = 6, 5
BACKENDS = ("sqlite", "postgresql")


class Collector:
    """The demo generators' client: keeps Segment events instead of sending them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _add(self, kind: str, timestamp: datetime | None, **fields: Any) -> None:
        event = {"type": kind, **{k: v for k, v in fields.items() if v is not None}}
        if timestamp is not None:
            event["timestamp"] = timestamp.astimezone(UTC).isoformat()
        self.events.append(event)

    def track(self, user_id=None, event=None, properties=None, context=None, timestamp=None,
              anonymous_id=None, message_id=None) -> None:
        self._add("track", timestamp, userId=user_id, anonymousId=anonymous_id, event=event,
                  properties=properties, context=context, messageId=message_id)

    def identify(self, user_id=None, traits=None, context=None, timestamp=None, anonymous_id=None,
                 message_id=None) -> None:
        self._add("identify", timestamp, userId=user_id, anonymousId=anonymous_id, traits=traits,
                  context=context, messageId=message_id)

    def alias(self, previous_id=None, user_id=None, context=None, timestamp=None, message_id=None) -> None:
        self._add("alias", timestamp, previousId=previous_id, userId=user_id, context=context,
                  messageId=message_id)


def demo_events() -> dict[str, list[dict[str, Any]]]:
    """A year of the demo's listeners and learners, course page views, and a few bad events."""
    end = datetime.now(UTC).date() - timedelta(days=2)
    start = date(end.year, 1, 1)
    listeners, learners = Collector(), Collector()
    catalog = build_catalog(SEED)
    for person in make_people("sw", USERS, SEED, start, end):
        music.generate(person, catalog, SEED, end, listeners)
    for person in make_people("lg", USERS, SEED, start, end):
        learning.generate(person, SEED, end, learners)
        learners.events.append({"type": "page", "userId": person.user_id, "name": "/courses/<slug>",
                                "properties": {"path": f"/courses/python-{person.index % 3}"},
                                "messageId": f"page-{person.user_id}",
                                "timestamp": f"{end.isoformat()}T12:00:00Z"})
    bad = [{"type": "track", "userId": "sw-0000"}, {"type": "track", "event": "x"},
           {"type": "track", "event": "x", "userId": "sw-0000", "properties": [1]},
           {"type": "track", "event": "x", "userId": "sw-0000", "timestamp": "yesterday"}]
    # Engagement no player sends, as anyone with the write key can: text where numbers go (a
    # cast that fails the whole stats query on PostgreSQL), numbers that overflow an average.
    hostile = [{"type": "track", "event": "frame_viewed", "userId": "sw-0001", "messageId": f"hostile-{i}",
                "timestamp": f"{end.isoformat()}T12:00:00Z",
                "properties": {"template": "year-in-music", "frame_id": "intro", **props}}
               for i, props in enumerate([{"index": "zero", "dwell_ms": "long"}, {"index": 0, "dwell_ms": 1.7e308},
                                          {"index": 1e300, "dwell_ms": 1.7e308}])]
    return {"music": listeners.events + bad + hostile, "learning": learners.events}


def _picture() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 90)).save(out, "PNG")
    return out.getvalue()


PICTURE = _picture()
ENGAGEMENT = [("story_viewed", {}),
              ("frame_viewed", {"frame_id": "intro", "index": 0, "dwell_ms": 4000, "advance": "auto"}),
              ("frame_viewed", {"frame_id": "card", "index": 1, "dwell_ms": 2500, "advance": "manual"}),
              ("story_completed", {}), ("story_shared", {"channel": "clipboard"}),
              ("story_closed", {"progress": 1})]


# A filter in lower case over names written in title case ("The Velvet Foxes").
CONTAINS_PROBE = """
id = "contains-probe"
title = "Probe"
[period]
kind = "year"
cutoff = "11-15"
[metrics.velvet]
kind = "count"
event = "Song Played"
where = { artist = { contains = "the velvet" } }
[[frames]]
id = "velvet"
kind = "text"
title = "{{ velvet }}"
[card]
title = "Probe"
"""


# The metric kinds and names added for the domain templates, one frame each (a frame whose value
# is missing is skipped, so one missing value does not hide the others).
KINDS_PROBE = """
id = "kinds-probe"
title = "Probe"
[period]
kind = "year"
cutoff = "11-15"
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.listen_ms]
kind = "sum"
event = "Song Played"
property = "ms_played"
[metrics.weeks]
kind = "streak"
event = "Song Played"
unit = "week"
[metrics.weeks_now]
kind = "streak"
event = "Song Played"
unit = "week"
mode = "current"
[metrics.months]
kind = "streak"
event = "Song Played"
unit = "month"
[metrics.by_weekday]
kind = "series"
event = "Song Played"
by = "weekday"
[metrics.by_month]
kind = "series"
event = "Song Played"
by = "month"
[metrics.per_play]
kind = "derived"
expr = "listen_ms / plays - 1000"
[metrics.per_play_rank]
kind = "percentile"
of = "per_play"
[metrics.per_play_change]
kind = "change"
of = "per_play"
[[frames]]
id = "weeks"
kind = "text"
title = "{{ weeks.weeks }} weeks {{ weeks.start | date }} to {{ weeks.end | date }}, now {{ weeks_now.weeks }}"
[[frames]]
id = "months"
kind = "text"
title = "{{ months.months }} months from {{ months.start | date('month') }}"
[[frames]]
id = "names"
kind = "text"
title = "{{ by_weekday.peak_name }}s, {{ by_month.peak_name }}, {{ (listen_ms / plays) | duration(unit='ms') }}"
[[frames]]
id = "rank"
kind = "text"
title = "top {{ per_play_rank.top_percent }}% of {{ per_play_rank.population }} at {{ per_play | round(3) }}"
[[frames]]
id = "change"
kind = "text"
title = "{{ per_play_change.delta | round(3) }} {{ per_play_change.direction }}"
[card]
title = "Probe"
"""


def story(server, template: str, user: str, headers: dict) -> tuple[int, Any]:
    reply = http("GET", f"{server.url}/v1/stories/{template}?user_id={user}", None, headers)
    body = reply.json()
    if isinstance(body, dict):
        body.pop("generated_at", None)  # when it was made, which differs by a few seconds
    return reply.status, body


def run_backend(backend: str, instance: str, database_url: str | None, events) -> dict[str, Any]:
    """Everything a client can see of one server fed ``events``."""
    config = {"INSTANCE_PATH": instance, "TESTING": True}
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    tenants = {"music": make_tenant("Soundwave", deep_link_scheme="soundwave"), "learning": make_tenant("Lingo")}
    templates = {"music": "year-in-music", "learning": "learning-recap"}
    seen: dict[str, Any] = {"ingest": [], "stories": {}, "shares": {}, "og_images": {}, "stats": {}, "precomputed": {}}
    server = LiveServer(app).start()
    try:
        for kind, batch in events.items():
            key = tenants[kind].write_key
            for repeat in range(2):  # the second time, every event is a repeat
                for i in range(0, len(batch), 500):
                    reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": batch[i:i + 500]}).encode(),
                                 {"Content-Type": "application/json", **basic(key)})
                    seen["ingest"].append((kind, repeat, i, reply.status, reply.json()))
        users = {kind: sorted({e["userId"] for e in batch if isinstance(e.get("userId"), str)})
                 for kind, batch in events.items()}
        app_template(instance, tenants["music"].app_id, "contains-probe", CONTAINS_PROBE)
        secret = basic(tenants["music"].secret_key)
        seen["contains"] = {user: story(server, "contains-probe", user, secret)[1]["frames"][0]["title"]
                            for user in users["music"]}
        app_template(instance, tenants["music"].app_id, "kinds-probe", KINDS_PROBE)
        result = app.test_cli_runner().invoke(args=["population", "refresh", "kinds-probe", "--app", "Soundwave"])
        assert result.exit_code == 0, result.output
        seen["kinds"] = {user: story(server, "kinds-probe", user, secret)[1]["frames"] for user in users["music"]}
        for kind, template in templates.items():
            secret = basic(tenants[kind].secret_key)
            # Ahead of the stories, as before a launch: a story does not wait for it.
            result = app.test_cli_runner().invoke(args=["population", "refresh", template, "--app", tenants[kind].name])
            assert result.exit_code == 0, result.output
            for user in users[kind]:
                seen["stories"][kind, user] = story(server, template, user, secret)
            showcase = users[kind][0]
            token = viewer_token(server, tenants[kind].secret_key, showcase)
            request = {"template": template, "caption": "mine"}
            if kind == "learning":  # with the learner's own picture on the card
                picture = http("POST", server.url + "/v1/uploads", PICTURE,
                               {"Content-Type": "image/png", **bearer(token)})
                assert picture.status == 201, picture.body
                request["upload_id"] = picture.json()["id"]
            share = post_json(server, "/v1/shares", request, bearer(token))
            body = share.json()
            page = http("GET", body["url"])
            png = http("GET", body["images"]["story"])
            og = http("GET", body["images"]["og"])
            seen["shares"][kind] = (share.status, page.status, png.status, png.headers.get("Content-Type"),
                                    "mine" in page.body.decode())
            seen["og_images"][kind] = hashlib.sha256(og.body).hexdigest()
            for n, user in enumerate(users[kind][:3]):  # the player's engagement events, as it sends them
                token = viewer_token(server, tenants[kind].secret_key, user)
                batch = [{"type": "track", "event": name, "properties": {"template": template, **props}}
                         for name, props in ENGAGEMENT[:len(ENGAGEMENT) - n]]
                http("POST", server.url + "/v1/batch", json.dumps({"batch": batch}).encode(),
                     {"Content-Type": "application/json", **bearer(token)})
            stats = http("GET", f"{server.url}/v1/stats/stories/{template}", None, secret)
            seen["stats"][kind] = (stats.status, stats.json())
            workers = "2" if kind == "learning" else "1"  # worker processes open their own connections
            result = app.test_cli_runner().invoke(args=["stories", "build", "--inline", template,
                                                        "--app", tenants[kind].name, "--workers", workers])
            assert result.exit_code == 0, result.output
            for user in users[kind]:
                seen["precomputed"][kind, user] = story(server, template, user, secret)
        showcase, secret = users["music"][0], basic(tenants["music"].secret_key)
        erased = post_json(server, "/v1/users/erase", {"user_id": showcase}, secret)
        seen["erasure"] = (erased.status, erased.json(), story(server, "year-in-music", showcase, secret)[0])
    finally:
        server.stop()
        database.close() if not database.is_closed() else None
    return seen


@pytest.fixture(scope="module")
def answers(postgres, tmp_path_factory) -> dict[str, dict[str, Any]]:
    events = demo_events()
    return {backend: run_backend(backend, str(tmp_path_factory.mktemp(backend)),
                                 new_database(postgres, "recap_test") if backend == "postgresql" else None, events)
            for backend in BACKENDS}


def test_ingest_answers_are_the_same(answers):
    sqlite, postgresql = (answers[b]["ingest"] for b in BACKENDS)
    assert postgresql == sqlite
    stored = sum(reply["stored"] for _, repeat, _, _, reply in sqlite if repeat == 0)
    again = sum(reply["duplicates"] for _, repeat, _, _, reply in sqlite if repeat == 1)
    assert stored == again > 1000  # every event stored once, every repeat recognised
    assert sum(len(reply["rejected"]) for _, repeat, _, _, reply in sqlite if repeat == 0) == 4


def test_every_story_is_the_same(answers):
    sqlite, postgresql = (answers[b]["stories"] for b in BACKENDS)
    assert sqlite.keys() == postgresql.keys()
    for user in sqlite:
        assert postgresql[user] == sqlite[user], user
    eligible = [user for user, (status, _) in sqlite.items() if status == 200]
    assert len(eligible) >= 2 * USERS - 4  # a real comparison: most users have a story


def test_shares_work_the_same(answers):
    assert answers["postgresql"]["shares"] == answers["sqlite"]["shares"]
    for kind in ("music", "learning"):
        assert answers["sqlite"]["shares"][kind] == (201, 200, 200, "image/png", True)
    # The same card, picture included, down to the pixel.
    assert answers["postgresql"]["og_images"] == answers["sqlite"]["og_images"]


def test_story_stats_are_the_same(answers):
    assert answers["postgresql"]["stats"] == answers["sqlite"]["stats"]
    status, stats = answers["sqlite"]["stats"]["music"]
    assert status == 200 and stats["viewers"] == 3, stats


def test_precomputed_stories_are_the_same(answers):
    sqlite, postgresql = (answers[b]["precomputed"] for b in BACKENDS)
    assert postgresql == sqlite
    for user, (status, body) in sqlite.items():  # and the same as computed on demand
        on_demand = answers["sqlite"]["stories"][user]
        if status == 200:
            assert (body.pop("source"), on_demand[1]["source"]) == ("precomputed", "on_demand")
            body["source"] = "on_demand"
        assert (status, body) == on_demand, user



@pytest.mark.parametrize("attempt", range(2))
def test_servers_on_several_machines_upgrade_one_database_once(postgres, tmp_path, attempt):
    from widget_server.store.migrations import MIGRATIONS

    url = new_database(postgres, f"recap_start_{attempt}")
    configs = [{"INSTANCE_PATH": str(tmp_path / f"machine-{n}"), "DATABASE_URL": url,
                "SECRET_KEYS": "one-key-for-every-machine-0123456789"} for n in range(3)]
    assert [outcome for outcome, _ in start_together(configs)] == ["started"] * 3
    import psycopg2

    con = psycopg2.connect(url)
    try:
        cursor = con.cursor()
        cursor.execute("SELECT version FROM schema_version ORDER BY version")
        assert [row[0] for row in cursor.fetchall()] == list(range(1, len(MIGRATIONS) + 1))
    finally:
        con.close()


def test_weekly_streaks_derived_ranks_and_series_names_are_the_same(answers):
    sqlite, postgresql = (answers[b]["kinds"] for b in BACKENDS)
    assert postgresql == sqlite
    shown = {frame["id"] for frames in sqlite.values() for frame in frames}
    assert shown >= {"weeks", "months", "names", "rank", "change"}, sqlite
    assert any(not frame["title"].startswith("1 weeks") for frames in sqlite.values() for frame in frames
               if frame["id"] == "weeks")


def test_contains_ignores_case_on_both(answers):
    sqlite, postgresql = (answers[b]["contains"] for b in BACKENDS)
    assert postgresql == sqlite
    assert any(title != "0" for title in sqlite.values())  # "the velvet" found "The Velvet Foxes"


def test_erasing_a_user_is_the_same(answers):
    assert answers["postgresql"]["erasure"] == answers["sqlite"]["erasure"]
    status, body, story_after = answers["sqlite"]["erasure"]
    assert status == 200 and body["erased"]["events"] > 100 and story_after == 404



# Three songs played equally often: a top list breaks the tie by the label's bytes on SQLite.
TIES_PROBE = """
id = "ties-probe"
title = "Probe"
[period]
kind = "last_days"
days = 30
[metrics.songs]
kind = "top"
event = "Song Played"
property = "song"
n = 3
[metrics.distinct_songs]
kind = "distinct"
event = "Song Played"
property = "song"
[[frames]]
id = "ties"
kind = "text"
title = "{{ songs[0].label }} / {{ songs[1].label }} / {{ songs[2].label }} of {{ distinct_songs }}"
[card]
title = "Probe"
"""


def test_tied_labels_rank_as_on_sqlite_in_a_database_of_another_collation(postgres, tmp_path):
    """A PostgreSQL database made with a language's collation (ICU en-US sorts "apple" before
    "Zebra") still ranks a top list's tied labels by their bytes, as SQLite does."""
    icu = new_database(postgres, "icu_ties", "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0")
    day = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    plays = [{"type": "track", "event": "Song Played", "userId": "ties", "messageId": f"tie-{song}-{i}",
              "timestamp": (day + timedelta(minutes=i)).isoformat(), "properties": {"song": song}}
             for song in ("apple", "Äpfel", "Zebra") for i in range(2)]
    told = {}
    for backend, url in (("sqlite", None), ("postgresql", icu)):
        instance = str(tmp_path / backend)
        app = create_app({"INSTANCE_PATH": instance, "TESTING": True, **({"DATABASE_URL": url} if url else {})})
        tenant = make_tenant("Soundwave")
        app_template(instance, tenant.app_id, "ties-probe", TIES_PROBE)
        server = LiveServer(app).start()
        try:
            reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": plays}).encode(),
                         {"Content-Type": "application/json", **basic(tenant.write_key)})
            assert reply.status == 200, reply.body
            status, body = story(server, "ties-probe", "ties", basic(tenant.secret_key))
            assert status == 200, body
            told[backend] = body["frames"][0]["title"]
        finally:
            server.stop()
            database.close()
    assert told == {"sqlite": "Zebra / apple / Äpfel of 3", "postgresql": "Zebra / apple / Äpfel of 3"}


def test_a_store_from_before_jsonb_is_upgraded_and_tells_every_story_the_same(answers, postgres, tmp_path):
    """A PostgreSQL store of schema 7 (properties and context as text) is converted to jsonb at
    start; the stories it then tells are the ones SQLite tells, and awkward JSON survives."""
    url = new_database(postgres, "before_jsonb")
    instance = str(tmp_path / "instance")
    app = create_app({"INSTANCE_PATH": instance, "TESTING": True, "DATABASE_URL": url})
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    with database.connection_context():  # back to schema 7, under the running app
        database.execute_sql("ALTER TABLE event ALTER COLUMN properties TYPE text, ALTER COLUMN context TYPE text")
        database.execute_sql("DELETE FROM schema_version WHERE version > 7")  # the later steps run again
    awkward = [{"n": 2 ** 63 - 1, "f": 1.5e300, "s": "5000", "q": "say \"hi\" \\ bye", "u": "ساعة 時間 🎧",
                "deep": {"a": [1, {"b": None, "c": True}]}}, {"dup": "keep the last", "x": 0.1}]
    events = demo_events()["music"] + [
        {"type": "track", "event": "Awkward", "userId": "awkward", "messageId": f"awkward-{i}", "properties": p}
        for i, p in enumerate(awkward)]
    server = LiveServer(app).start()
    try:
        for i in range(0, len(events), 500):
            reply = http("POST", server.url + "/v1/batch", json.dumps({"batch": events[i:i + 500]}).encode(),
                         {"Content-Type": "application/json", **basic(tenant.write_key)})
            assert reply.status == 200, reply.body
        with database.connection_context():  # an escaped NUL stored before ingest refused it
            database.execute_sql("UPDATE event SET context = %s WHERE message_id = 'awkward-1'",
                                 ('{"note": "a\\u0000b"}',))
    finally:
        server.stop()
        database.close()

    app = create_app({"INSTANCE_PATH": instance, "TESTING": True, "DATABASE_URL": url})  # the upgrade
    with database.connection_context():
        types = {c.name: c.data_type for c in database.get_columns("event") if c.name in ("properties", "context")}
        rows = dict(database.execute_sql("SELECT message_id, properties FROM event WHERE user_id = 'awkward'"))
        note = database.execute_sql("SELECT context FROM event WHERE message_id = 'awkward-1'").fetchone()[0]
    assert types == {"properties": "jsonb", "context": "jsonb"}
    kept = [json.loads(rows[f"awkward-{i}"]) for i in range(2)]
    assert float(kept[0].pop("f")) == awkward[0]["f"]  # jsonb keeps a number's value, not its spelling
    assert kept == [{k: v for k, v in awkward[0].items() if k != "f"}, awkward[1]]
    assert json.loads(note) == {"note": "a\ufffdb"}
    result = app.test_cli_runner().invoke(args=["population", "refresh", "year-in-music", "--app", tenant.name])
    assert result.exit_code == 0, result.output
    server = LiveServer(app).start()
    try:
        expected = {user: told for (kind, user), told in answers["sqlite"]["stories"].items() if kind == "music"}
        told = {user: story(server, "year-in-music", user, basic(tenant.secret_key)) for user in expected}
    finally:
        server.stop()
        database.close()
    assert told == expected
