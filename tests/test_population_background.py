"""No story request waits for the whole app: a missing or expired percentile population is
refreshed in the background while requests answer with the last distribution (or, on a new app,
without one: the frame falls back)."""
from __future__ import annotations

import threading

from helpers.server import make_tenant
from helpers.story import NOW, ms, send, track
from widget_server.engine import assemble_story, population, registry, resolve_period
from widget_server.store.db import database
from widget_server.store.models import PopulationStat


def _listeners(live_server, count: int = 12):
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    start = ms("2026-04-01T18:00:00")
    send(live_server, tenant.write_key, [
        track(f"user{u}", "Song Played", start + i * 86_400_000,
              {"song_id": f"s{i}", "song": f"Song {i}", "artist": f"Artist {i % 4}", "genre": "pop",
               "ms_played": 200_000, "device": "ios"})
        for u in range(count) for i in range(10 + 3 * u)])
    return tenant


def _top_percent(tenant, user: str) -> str | None:
    with database.connection_context():
        story = assemble_story(tenant.app_id, "year-in-music", user, now=NOW, fresh=True)
    frame = next((f for f in story["frames"] if f["id"] == "top-percent"), None)
    return frame["stat"]["value"] if frame else None


def _in_a_thread(func, timeout: float = 10.0):
    """``func()``'s result, or AssertionError if it is still running after ``timeout`` seconds."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(func()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the request waited for a population refresh over {timeout} s"
    return out[0]


def test_a_story_does_not_wait_for_a_population_refresh(app, live_server):
    """While a refresh holds the process's refresh turn (a long one over every user), a story
    on a new app answers at once without the rank; once the background refresh ran, it has it."""
    tenant = _listeners(live_server)
    with population._refreshing:  # a refresh of the whole app is under way
        assert _in_a_thread(lambda: _top_percent(tenant, "user11")) is None
    assert population.background.wait(30)
    assert _top_percent(tenant, "user11") == "Top 9%"  # rank 1 of 12


def test_an_expired_population_is_served_while_it_is_refreshed(app, live_server):
    tenant = _listeners(live_server)
    template = registry.get(tenant.app_id, "year-in-music")
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        population.refresh(tenant.app_id, template, period)
        # Six hours later, with one listener more than the stored distribution knows.
        PopulationStat.update(computed_at=PopulationStat.computed_at - population.TTL_MS - 1).execute()
    population._memory.clear()
    send(live_server, tenant.write_key, [track("newcomer", "Song Played", ms("2026-05-01T10:00:00"),
                                               {"song": "x", "artist": "y", "ms_played": 1000})])
    with population._refreshing:
        assert _in_a_thread(lambda: _top_percent(tenant, "user11")) == "Top 9%"  # the last one, at once
    assert population.background.wait(30)
    with database.connection_context():
        assert PopulationStat.get(PopulationStat.metric == "listen_ms").users == 13
    population._memory.clear()
    assert _top_percent(tenant, "user11") == "Top 8%"  # rank 1 of 13


def test_a_failed_background_refresh_is_logged_and_not_retried_at_once(app, live_server, caplog):
    tenant = _listeners(live_server, count=2)
    template = registry.get(tenant.app_id, "year-in-music")
    period = resolve_period(template.spec["period"], NOW)
    with database.connection_context():
        database.execute_sql("DROP TABLE population_stat")  # every refresh now fails
    assert population.refresh_in_background(tenant.app_id, template, period)
    assert population.background.wait(30)
    assert "population refresh" in caplog.text
    assert not population.refresh_in_background(tenant.app_id, template, period)
