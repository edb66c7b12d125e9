"""Every metric kind, computed by the engine's SQL, equals the same number computed here in plain
Python from the events we sent through the real ingest — across time zones (Tokyo, Los Angeles
over DST, UTC) and for listening done anonymously before the user logged in."""
from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpers.server import make_tenant
from helpers.story import NOW, app_template, identify, iso, ms, send, track
from widget_server.engine import assemble_story, parse, resolve_period
from widget_server.engine.metrics import compute
from widget_server.engine.population import refresh
from widget_server.engine.users import actor_pairs, user_ids
from widget_server.store.db import database

TEMPLATE = """
id = "every-metric"
title = "Every metric"
[period]
kind = "year"
cutoff = "11-15"
[virtual_events.lesson_page]
type = "page"
where = { path = { glob = "/lessons/*" } }
[metrics.plays]
kind = "count"
event = "Song Played"
[metrics.listen_ms]
kind = "sum"
event = "Song Played"
property = "ms_played"
[metrics.avg_ms]
kind = "avg"
event = "Song Played"
property = "ms_played"
[metrics.min_ms]
kind = "min"
event = "Song Played"
property = "ms_played"
[metrics.max_ms]
kind = "max"
event = "Song Played"
property = "ms_played"
[metrics.artists]
kind = "distinct"
event = "Song Played"
property = "artist"
[metrics.songs]
kind = "distinct"
event = "Song Played"
property = "song"
[metrics.top_count]
kind = "top"
event = "Song Played"
property = "artist"
n = 3
[metrics.top_sum]
kind = "top"
event = "Song Played"
property = "genre"
by = "sum"
sum_property = "ms_played"
n = 3
[metrics.ios_share]
kind = "share"
event = "Song Played"
part = { device = "ios" }
[metrics.first_play]
kind = "first"
event = "Song Played"
property = "song"
[metrics.last_play]
kind = "last"
event = "Song Played"
property = "song"
[metrics.longest]
kind = "streak"
event = "Song Played"
mode = "longest"
[metrics.current]
kind = "streak"
event = "Song Played"
mode = "current"
[metrics.weeks_longest]
kind = "streak"
event = "Song Played"
unit = "week"
[metrics.weeks_current]
kind = "streak"
event = "Song Played"
unit = "week"
mode = "current"
[metrics.months_longest]
kind = "streak"
event = "Song Played"
unit = "month"
[metrics.months_current]
kind = "streak"
event = "Song Played"
unit = "month"
mode = "current"
[metrics.rock_streak]
kind = "streak"
event = "Song Played"
where = { genre = "rock" }
[metrics.rock_weeks]
kind = "streak"
event = "Song Played"
where = { genre = "rock" }
unit = "week"
[metrics.hours]
kind = "series"
event = "Song Played"
by = "hour"
[metrics.weekdays]
kind = "series"
event = "Song Played"
by = "weekday"
[metrics.months]
kind = "series"
event = "Song Played"
by = "month"
property = "ms_played"
[metrics.days]
kind = "series"
event = "Song Played"
by = "day"
[metrics.record]
kind = "record_day"
event = "Song Played"
[metrics.peak]
kind = "peak_month"
of = "top_count"
[metrics.rank]
kind = "percentile"
of = "listen_ms"
[metrics.plays_change]
kind = "change"
of = "plays"
[metrics.level]
kind = "tier"
of = "plays"
tiers = [{ min = 0, label = "low" }, { min = 60, label = "mid" }, { min = 120, label = "high" }]
[metrics.minutes]
kind = "derived"
expr = "listen_ms / 60000"
[metrics.saved]
kind = "derived"
expr = "listen_ms - 100000 * (plays - long_rock)"
[metrics.saved_rank]
kind = "percentile"
of = "saved"
[metrics.saved_change]
kind = "change"
of = "saved"
[metrics.owl]
kind = "label"
rules = [{ when = "hours.peak_index >= 20 or hours.peak_index < 4", label = "night" },
         { when = "plays > 100", label = "busy" }]
default = "day"
[metrics.lesson_views]
kind = "count"
event = "lesson_page"
[metrics.long_rock]
kind = "count"
event = "Song Played"
where = { ms_played = { gte = 200000 }, genre = ["rock", "pop"] }
[metrics.buy_clicks]
kind = "count"
event = "$click"
where = { "element.text" = { contains = "Buy" }, "element.selector" = { glob = "button.*" } }
[[frames]]
id = "x"
kind = "text"
title = "x"
[card]
title = "card"
"""

ZONES = {"tokyo": "Asia/Tokyo", "la": "America/Los_Angeles", "utc": "UTC", "anon": "Europe/Berlin"}
ARTISTS = ["Björk", "Mitski", "Bon Iver", "Arca", "Caribou"]
GENRES = ["rock", "pop", "jazz", "art pop"]
PERIOD = (date(2026, 1, 1), date(2026, 11, 15))
PREVIOUS = (date(2025, 1, 1), date(2025, 11, 15))


def _listen(rng: random.Random, user: str, zone: str, count: int, *, anon: str | None = None) -> list[dict]:
    events = []
    # Around the year's edges and DST changes as well as anywhere in the two years.
    edges = [ms("2025-12-31T15:30:00"), ms("2026-03-08T09:30:00"), ms("2026-11-01T08:30:00"),
             ms("2026-11-15T14:50:00"), ms("2026-11-16T07:10:00")]
    for i in range(count):
        at = edges[i] if i < len(edges) else ms("2025-01-01T00:00:00") + rng.randrange(690 * 86_400_000)
        events.append(track(None if anon else user, "Song Played", at,
                            {"song_id": f"s{rng.randrange(12)}", "song": f"Song {rng.randrange(12)}",
                             "artist": rng.choice(ARTISTS), "genre": rng.choice(GENRES),
                             "ms_played": rng.randrange(5_000, 300_000), "device": rng.choice(["ios", "web"])},
                            zone=zone, anon=anon))
    # A run of consecutive local days ending on the cut-off day, for the streaks.
    for d in range(6):
        at = ms("2026-11-10T12:00:00") + d * 86_400_000
        events.append(track(None if anon else user, "Song Played", at,
                            {"song": "Streak", "artist": "Arca", "genre": "pop", "ms_played": 250_000,
                             "device": "ios"}, zone=zone, anon=anon))
    return events


@pytest.fixture
def world(app, live_server):
    """Users in three zones, one of whom listened anonymously before logging in, plus others."""
    tenant = make_tenant("Soundwave", timezone="UTC")
    rng = random.Random(7)
    events = []
    for user, zone in (("tokyo", ZONES["tokyo"]), ("la", ZONES["la"]), ("utc", ZONES["utc"])):
        events += _listen(rng, user, zone, 220)
    # "anon": 150 plays as device-abc, then logs in as "anon" and plays 40 more.
    events += _listen(rng, "anon", ZONES["anon"], 150, anon="device-abc")
    events.append(identify("anon", {"name": "Ana"}, ms("2026-06-01T00:00:00"), anon="device-abc"))
    events += _listen(rng, "anon", ZONES["anon"], 40)
    for i in range(8):  # a population for the percentile
        events += _listen(rng, f"extra{i}", "UTC", 20 + 15 * i)
    events += [track("utc", "Page", ms("2026-04-01T10:00:00"), {"path": p}) | {"type": "page", "name": p}
               for p in ("/lessons/1", "/lessons/2", "/pricing", "/lessons")]
    events += [track("utc", "$click", ms("2026-04-02T10:00:00"), {"element": {"text": t, "selector": s}})
               for t, s in (("Buy now", "button.buy"), ("Buy", "a.buy"), ("Later", "button.x"))]
    send(live_server, tenant.write_key, events)
    template = parse(TEMPLATE)
    with database.connection_context():  # (a story does not wait for it: it runs in the background)
        refresh(tenant.app_id, template, resolve_period(template.spec["period"], NOW))
    for event in events:
        if event["type"] == "track" and event.get("anonymousId") and not event.get("userId"):
            event["userId"] = "anon"  # what the Identity join means, for the reference below
    return tenant, events


# --- the reference: plain Python over the events we sent ------------------------------------

def local(event: dict) -> datetime:
    at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    return at.astimezone(ZoneInfo(event["context"]["timezone"]))


def rows(events: list[dict], user: str, name: str, span=PERIOD) -> list[dict]:
    return [e for e in events if e.get("userId") == user and e["type"] == "track" and e["event"] == name
            and span[0] <= local(e).date() <= span[1]]


def ranked(counter: Counter, n: int) -> list[tuple[str, float]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def runs(days: set[date]) -> list[tuple[date, date, int]]:
    out, ordered = [], sorted(days)
    for day in ordered:
        if out and day == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], day, out[-1][2] + 1)
        else:
            out.append((day, day, 1))
    return out


def unit_runs(days: set[date], unit: str) -> tuple[tuple[int, str | None, str | None], int]:
    """The longest run of consecutive ISO weeks (or months) with a day in ``days`` as (count,
    first day of its first unit, last day of its last, within the period), the most recent of
    equal length;
    and the length of the current run (ending in the period's last unit or the one before)."""
    def number(day: date) -> int:  # consecutive units differ by one
        return (day.toordinal() - 1) // 7 if unit == "week" else day.year * 12 + day.month - 1

    def span(n: int) -> tuple[date, date]:
        if unit == "week":  # ordinal 1 (1 January of year 1) is a Monday
            return date.fromordinal(n * 7 + 1), date.fromordinal(n * 7 + 7)
        following = n + 1
        return date(n // 12, n % 12 + 1, 1), date(following // 12, following % 12 + 1, 1) - timedelta(days=1)

    spans: list[list[int]] = []
    for n in sorted({number(d) for d in days}):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    if not spans:
        return (0, None, None), 0
    s, e = max(spans, key=lambda r: (r[1] - r[0], r[1]))
    current = [r for r in spans if r[1] >= number(PERIOD[1]) - 1]
    return ((e - s + 1, max(span(s)[0], PERIOD[0]).isoformat(), min(span(e)[1], PERIOD[1]).isoformat()),
            current[-1][1] - current[-1][0] + 1 if current else 0)


def expected(events: list[dict], user: str) -> dict:
    plays = rows(events, user, "Song Played")
    played = [e["properties"]["ms_played"] for e in plays]
    artists = Counter(e["properties"]["artist"] for e in plays)
    genre_ms = Counter()
    for e in plays:
        genre_ms[e["properties"]["genre"]] += e["properties"]["ms_played"]
    by_time = sorted(plays, key=lambda e: e["timestamp"])
    days = {local(e).date() for e in plays}
    all_runs = runs(days)
    longest = max(all_runs, key=lambda r: (r[2], r[1]))
    current = [r for r in all_runs if r[1] >= PERIOD[1] - timedelta(days=1)]
    rock_runs = runs({local(e).date() for e in plays if e["properties"]["genre"] == "rock"})
    hours = [0] * 24
    weekdays = [0] * 7
    months = [0] * 11
    per_day = Counter()
    month_of = defaultdict(Counter)
    for e in plays:
        at = local(e)
        hours[at.hour] += 1
        weekdays[at.weekday()] += 1
        months[at.month - 1] += e["properties"]["ms_played"]
        per_day[at.date()] += 1
        month_of[e["properties"]["artist"]][at.strftime("%Y-%m")] += 1
    record = sorted(per_day.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    top = ranked(artists, 3)
    return {
        "plays": len(plays), "listen_ms": sum(played), "avg_ms": sum(played) / len(played),
        "min_ms": min(played), "max_ms": max(played), "artists": len(artists),
        "songs": len({e["properties"]["song"] for e in plays}),
        "top_count": [(a, c) for a, c in top], "top_sum": ranked(genre_ms, 3),
        "ios_share": sum(e["properties"]["device"] == "ios" for e in plays) / len(plays),
        "first_play": by_time[0]["properties"]["song"], "last_play": by_time[-1]["properties"]["song"],
        "longest": (longest[2], longest[0].isoformat(), longest[1].isoformat()),
        "current": current[-1][2] if current else 0,
        "rock_streak": max((r[2] for r in rock_runs), default=0),
        "weeks": unit_runs(days, "week"), "months_streak": unit_runs(days, "month"),
        "rock_weeks": unit_runs({local(e).date() for e in plays if e["properties"]["genre"] == "rock"}, "week")[0],
        "hours": hours, "weekdays": weekdays, "months": months,
        "days": [per_day.get(PERIOD[0] + timedelta(days=i), 0) for i in range((PERIOD[1] - PERIOD[0]).days + 1)],
        "record": (record[0].isoformat(), record[1]),
        "peak": [(a, *sorted(month_of[a].items(), key=lambda kv: (-kv[1], kv[0]))[0]) for a, _ in top],
        "previous_plays": len(rows(events, user, "Song Played", PREVIOUS)),
        "long_rock": sum(e["properties"]["ms_played"] >= 200_000 and e["properties"]["genre"] in ("rock", "pop")
                         for e in plays),
    }


def saved(plays: list[dict]) -> int:
    """The derived ``saved``: listen_ms - 100000 * (plays - long_rock)."""
    long_rock = sum(e["properties"]["ms_played"] >= 200_000 and e["properties"]["genre"] in ("rock", "pop")
                    for e in plays)
    return sum(e["properties"]["ms_played"] for e in plays) - 100_000 * (len(plays) - long_rock)


def population_top_percent(events: list[dict], user: str, value=lambda plays: sum(
        e["properties"]["ms_played"] for e in plays)) -> int | None:
    """The user's top percent by ``value`` of their plays, among the users whose value is above 0."""
    plays = defaultdict(list)
    for e in events:
        if e["type"] == "track" and e["event"] == "Song Played" and PERIOD[0] <= local(e).date() <= PERIOD[1]:
            plays[e["userId"]].append(e)
    totals = {uid: value(mine) for uid, mine in plays.items()}
    ranked_users = [v for v in totals.values() if v > 0]
    if totals[user] <= 0:
        return None
    higher = sum(1 for v in ranked_users if v > totals[user])
    return math.ceil(100 * (higher + 1) / len(ranked_users))


@pytest.mark.parametrize("user", ["tokyo", "la", "utc", "anon"])
def test_every_metric_kind_matches_plain_python(world, user):
    tenant, events = world
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, [user]), NOW)[user]
    want = expected(events, user)
    for name in ("plays", "listen_ms", "min_ms", "max_ms", "artists", "songs", "long_rock"):
        assert got[name] == want[name], name
    assert got["avg_ms"] == pytest.approx(want["avg_ms"])
    assert got["ios_share"] == pytest.approx(want["ios_share"])
    assert [(i["label"], i["value"]) for i in got["top_count"]] == want["top_count"]
    assert [(i["label"], i["value"]) for i in got["top_sum"]] == want["top_sum"]
    assert [i["rank"] for i in got["top_count"]] == [1, 2, 3]
    assert got["first_play"]["value"] == want["first_play"]
    assert got["last_play"]["value"] == want["last_play"]
    assert (got["longest"]["days"], got["longest"]["start"], got["longest"]["end"]) == want["longest"]
    assert got["current"]["days"] == want["current"]
    assert got["rock_streak"]["days"] == want["rock_streak"]
    for unit, key in (("weeks", "weeks"), ("months", "months_streak")):
        (n, start, end), current = want[key]
        longest = got[f"{unit}_longest"]
        assert (longest[unit], longest["start"], longest["end"]) == (n, start, end), unit
        assert got[f"{unit}_current"][unit] == current, unit
    # (those share the record day's query; this one, with a filter of its own, is a query of its own)
    assert (got["rock_weeks"]["weeks"], got["rock_weeks"]["start"], got["rock_weeks"]["end"]) == want["rock_weeks"]
    assert got["hours"]["values"] == want["hours"]
    assert got["weekdays"]["values"] == want["weekdays"]
    assert got["months"]["values"] == want["months"]
    assert got["months"]["labels"][0] == "Jan" and len(got["months"]["labels"]) == 11
    # Short labels for a chart, names for a sentence, from the story locale (engine/dates.py).
    assert got["weekdays"]["labels"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert got["weekdays"]["names"][4] == "Friday" and got["months"]["names"][7] == "August"
    assert got["months"]["labels"][8] == "Sept"  # CLDR's en_GB abbreviation
    assert got["hours"]["labels"][22] == "22" and got["hours"]["names"][22] == "22:00"
    assert got["days"]["labels"][0] == "2026-01-01" and got["days"]["names"][0] == "1 January"
    for series in ("hours", "weekdays", "months", "days"):
        peak = got[series]["peak_index"]
        assert got[series]["peak_name"] == got[series]["names"][peak], series
    assert got["days"]["values"] == want["days"]
    assert (got["record"]["date"], got["record"]["value"]) == want["record"]
    assert [(p["label"], p["month"], p["value"]) for p in got["peak"]] == want["peak"]
    assert got["rank"]["top_percent"] == population_top_percent(events, user)
    # A derived metric of arithmetic over scalars is ranked and compared like a scalar.
    plays, before = rows(events, user, "Song Played"), rows(events, user, "Song Played", PREVIOUS)
    assert got["saved"] == saved(plays)
    assert (got["saved_rank"] or {}).get("top_percent") == population_top_percent(events, user, saved)
    assert got["saved_change"]["previous"] == saved(before)
    assert got["saved_change"]["delta"] == saved(plays) - saved(before)
    assert got["plays_change"]["previous"] == want["previous_plays"]
    assert got["plays_change"]["delta"] == want["plays"] - want["previous_plays"]
    assert got["level"] == ("high" if want["plays"] >= 120 else "mid" if want["plays"] >= 60 else "low")
    assert got["minutes"] == pytest.approx(want["listen_ms"] / 60000)
    peak_hour = max(range(24), key=lambda h: (want["hours"][h], -h))
    assert got["owl"] == ("night" if peak_hour >= 20 or peak_hour < 4 else "busy" if want["plays"] > 100 else "day")


def test_anonymous_listening_before_login_counts_for_the_user(world):
    tenant, events = world
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["anon"]), NOW)["anon"]
    anonymous = [e for e in events if e.get("anonymousId") == "device-abc" and e["type"] == "track"
                 and PERIOD[0] <= local(e).date() <= PERIOD[1]]
    assert anonymous and got["plays"] > len(anonymous)


def test_time_zone_decides_the_day_and_the_year(world):
    """2025-12-31 15:30 UTC is already 2026 in Tokyo, but still 2025 in Los Angeles."""
    tenant, events = world
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["tokyo", "la"]), NOW)
    assert got["tokyo"]["days"]["values"][0] >= 1
    assert got["tokyo"]["hours"]["values"][0] >= 1  # 00:30 in Tokyo
    assert got["la"]["plays"] == expected(events, "la")["plays"]


def test_virtual_events_and_autocaptured_clicks_filter_by_path_and_element(world):
    tenant, _ = world
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["utc"]), NOW)["utc"]
    assert got["lesson_views"] == 2  # /lessons/1 and /lessons/2; not /lessons or /pricing
    assert got["buy_clicks"] == 1  # "Buy now" on button.buy; "Buy" was a link


def test_batch_of_users_gives_the_same_values_as_one_at_a_time(world):
    tenant, _ = world
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    users = ["tokyo", "la", "utc", "anon"]
    with database.connection_context():
        together = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, users), NOW)
        for user in users:
            alone = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, [user]), NOW)[user]
            assert alone == together[user]


def _alias(previous: str, user: str, at_ms: int) -> dict:
    return {"type": "alias", "previousId": previous, "userId": user, "timestamp": iso(at_ms),
            "context": {"timezone": "UTC"}}


def test_an_alias_chain_carries_anonymous_history_to_the_final_user(app, live_server):
    """Plays on a device, login as "temp", then "temp" aliased into "final": all four plays are
    final's; the merged "temp" keeps none of them and is no user of its own in the population."""
    tenant = make_tenant("Soundwave", timezone="UTC")
    t0 = ms("2026-03-01T12:00:00")
    play = {"ms_played": 60_000}
    send(live_server, tenant.write_key, [
        track(None, "Song Played", t0, play, anon="device-1"),
        track(None, "Song Played", t0 + 1000, play, anon="device-1"),
        identify("temp", {}, t0 + 10_000, anon="device-1"),
        track("temp", "Song Played", t0 + 20_000, play),
        _alias("temp", "final", t0 + 50_000),
        track("final", "Song Played", t0 + 60_000, play)])
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        refresh(tenant.app_id, template, period)
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["temp", "final"]), NOW)
        alone = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["final"]), NOW)["final"]
        users = user_ids(tenant.app_id)
    assert got["final"]["plays"] == alone["plays"] == 4
    assert "plays" not in got["temp"]
    assert users == ["final"]
    assert got["final"]["rank"]["population"] == 1


def test_an_alias_cycle_leaves_the_history_with_one_user(app, live_server):
    """"a" aliased into "b", later "b" into "a": the smaller id keeps both histories, once."""
    tenant = make_tenant("Soundwave", timezone="UTC")
    t0 = ms("2026-03-01T12:00:00")
    send(live_server, tenant.write_key, [
        track("a", "Song Played", t0), _alias("a", "b", t0 + 1000), track("b", "Song Played", t0 + 2000),
        _alias("b", "a", t0 + 3000)])
    with database.connection_context():
        pairs = actor_pairs(tenant.app_id, ["a", "b"])
        users = user_ids(tenant.app_id)
    assert sorted(pairs) == [("a:a", "a"), ("a:b", "a"), ("u:a", "a"), ("u:b", "a")]
    assert users == ["a"]


def test_a_current_streak_runs_to_each_users_local_today(app, live_server):
    """At 04:00 UTC on 22 Nov it is still 21 Nov, 20:00, in Los Angeles: plays on the 18th–20th
    are a current streak there, but not for a UTC listener with the same days."""
    tenant = make_tenant("Soundwave", timezone="UTC")
    la = ZoneInfo(ZONES["la"])
    send(live_server, tenant.write_key, [
        *[track("la", "Song Played", int(datetime(2026, 11, d, 12, tzinfo=la).timestamp() * 1000), zone=ZONES["la"])
          for d in (18, 19, 20)],
        *[track("utc", "Song Played", ms(f"2026-11-{d}T12:00:00")) for d in (18, 19, 20)]])
    template = parse(TEMPLATE.replace('kind = "year"\ncutoff = "11-15"', 'kind = "last_days"\ndays = 30'))
    now = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    period = resolve_period(template.spec["period"], now)
    with database.connection_context():
        together = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["la", "utc"]), now)
        alone = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["la"]), now)["la"]
    assert together["la"]["current"] == alone["current"] == {"days": 3, "start": "2026-11-18", "end": "2026-11-20"}
    assert together["utc"]["current"]["days"] == 0


def test_weekly_and_monthly_streaks_count_local_iso_weeks_and_calendar_months(app, live_server):
    """Weeks run Monday to Sunday in the listener's own zone: a play at 23:30 UTC on Sunday 8
    March is Monday 9 March in Tokyo, so the same plays make Tokyo's two weeks in a row 9–22 March
    and UTC's 23 February – 8 March. Months: January to March is a run of three, May and June of two."""
    tenant = make_tenant("Soundwave", timezone="UTC")
    plays = ["2026-03-01T12:00:00", "2026-03-08T23:30:00", "2026-03-16T12:00:00",  # weeks
             "2026-01-20T12:00:00", "2026-02-03T12:00:00", "2026-05-10T12:00:00",
             "2026-06-10T12:00:00", "2026-11-10T12:00:00"]
    send(live_server, tenant.write_key, [track(user, "Song Played", ms(at), zone=zone) for at in plays
                                         for user, zone in (("tk", ZONES["tokyo"]), ("utc", "UTC"))])
    template = parse(TEMPLATE)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["tk", "utc"]), NOW)
    # Tokyo: the weeks of 23 Feb (1 March is a Sunday), 9 March and 16 March; UTC: 23 Feb and 2 March, then 16 March.
    assert got["tk"]["weeks_longest"] == {"weeks": 2, "start": "2026-03-09", "end": "2026-03-22"}
    assert got["utc"]["weeks_longest"] == {"weeks": 2, "start": "2026-02-23", "end": "2026-03-08"}
    assert got["tk"]["months_longest"] == got["utc"]["months_longest"] == {
        "months": 3, "start": "2026-01-01", "end": "2026-03-31"}
    # The period ends on Sunday 15 November: the week of 9 November and November are current.
    assert got["utc"]["weeks_current"] == {"weeks": 1, "start": "2026-11-09", "end": "2026-11-15"}
    assert got["utc"]["months_current"] == {"months": 1, "start": "2026-11-01", "end": "2026-11-15"}


def test_a_last_days_period_ends_on_the_users_local_today(app, live_server):
    """At 23:30 UTC on 20 Nov it is already 21 Nov, 08:30, in Tokyo: a play at 07:00 there is in
    the Tokyo listener's last 7 days, which run 15–21 Nov; a UTC listener's still end on the 20th."""
    tenant = make_tenant("Soundwave", timezone="UTC")
    tokyo = ZoneInfo(ZONES["tokyo"])
    send(live_server, tenant.write_key, [
        track("tk", "Song Played", int(datetime(2026, 11, 21, 7, tzinfo=tokyo).timestamp() * 1000),
              zone=ZONES["tokyo"]),
        track("utc", "Song Played", ms("2026-11-20T12:00:00"))])
    app_template(app.instance_path, tenant.app_id, "week",
                 'id = "week"\ntitle = "Week"\n[period]\nkind = "last_days"\ndays = 7\n'
                 '[metrics.plays]\nkind = "count"\nevent = "Song Played"\n[[frames]]\n'
                 'id = "plays"\nkind = "text"\n'
                 'title = "{{ plays }} {{ period.start }} {{ period.end }}"\n'
                 '[card]\ntitle = "c"\n')
    now = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    with database.connection_context():
        titles = {uid: assemble_story(tenant.app_id, "week", uid, now=now, fresh=True)["frames"][0]["title"]
                  for uid in ("tk", "utc")}
    assert titles == {"tk": "1 2026-11-15 2026-11-21", "utc": "1 2026-11-14 2026-11-20"}


SCALED = """
id = "scaled"
title = "Scaled"
[period]
kind = "year"
cutoff = "11-15"
[metrics.km]
kind = "sum"
event = "Run"
property = "distance_m"
scale = 0.001
[metrics.km_change]
kind = "change"
of = "km"
[metrics.km_by_month]
kind = "series"
event = "Run"
by = "month"
property = "distance_m"
scale = 0.001
[metrics.pace]
kind = "avg"
event = "Run"
property = "distance_m"
scale = 0.001
[[frames]]
id = "km"
kind = "chart"
chart = { metric = "km_by_month" }
[card]
title = "{{ km }}"
"""


def test_scaled_values_carry_no_float_noise(app, live_server):
    """139,932 m is 139.932 km, not 139.93200000000002, in the value, the series (so the chart's
    aria label), its total and the change against last year's 100.1 km."""
    tenant = make_tenant("Runner", timezone="UTC")
    send(live_server, tenant.write_key, [
        track("ada", "Run", ms("2026-03-01T12:00:00"), {"distance_m": 139_932}),
        track("ada", "Run", ms("2025-03-01T12:00:00"), {"distance_m": 100_100})])
    template = parse(SCALED)
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        got = compute(template, tenant.app_id, period, actor_pairs(tenant.app_id, ["ada"]), NOW)["ada"]
    assert got["km"] == got["pace"] == 139.932
    assert got["km_by_month"]["values"][2] == got["km_by_month"]["total"] == 139.932
    assert got["km_change"]["delta"] == 39.832
    assert "0000000" not in json.dumps(got)
