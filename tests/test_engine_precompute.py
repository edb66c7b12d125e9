"""Precomputed stories, population refresh and the `recap templates/stories/population` commands."""
from __future__ import annotations

import json
from pathlib import Path

from helpers.server import basic, http, make_tenant
from helpers.story import NOW, app_template, card_title_lines, iso, ms, send, track, viewer_token
from widget_server.engine import assemble_story, registry, resolve_period, template_store
from widget_server.engine.precompute import BuildReport, build
from widget_server.engine.templates import SHIPPED_DIR
from widget_server.store.db import database
from widget_server.store.models import App

NOW_ARG = ["--now", NOW.date().isoformat()]


def listeners(live_server, count: int = 12):
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    start = ms("2026-04-01T18:00:00")
    events = []
    for u in range(count):
        plays = 5 + 3 * u  # user0 and user1 have under 10 plays: not eligible
        events += [track(f"user{u}", "Song Played", start + i * 86_400_000,
                         {"song_id": f"s{i}", "song": f"Song {i}", "artist": f"Artist {i % 4}",
                          "genre": "pop", "ms_played": 200_000, "device": "ios"}) for i in range(plays)]
    send(live_server, tenant.write_key, events)
    return tenant


def test_build_precomputes_every_eligible_user_and_serving_uses_it(app, live_server, runner, query):
    tenant = listeners(live_server)
    result = runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave", *NOW_ARG])
    assert result.exit_code == 0, result.output
    assert "built 10 stories (2 users not eligible)" in result.output
    assert query("SELECT COUNT(*) FROM precomputed_story")[0][0] == 10
    with database.connection_context():
        stored = assemble_story(tenant.app_id, "year-in-music", "user5", now=NOW)
        fresh = assemble_story(tenant.app_id, "year-in-music", "user5", now=NOW, fresh=True)
    assert stored["source"] == "precomputed" and fresh["source"] == "on_demand"
    assert stored["frames"] == fresh["frames"] and stored["card"] == fresh["card"]
    reply = http("GET", f"{live_server.url}/v1/stories/year-in-music?user_id=user11", None, basic(tenant.secret_key))
    assert reply.status == 200


def test_build_with_several_workers_stores_the_same_stories(app, live_server, query):
    tenant = listeners(live_server)
    with database.connection_context():
        app_row = App.get_by_id(tenant.app_id)
        template = registry.get(tenant.app_id, "year-in-music")
        period = resolve_period(template.spec["period"], NOW)
        counts = build(app_row, template, period, now=NOW, workers=2, chunk_size=3,
                       database_url=app.config["DATABASE_URL"])
        assert counts == BuildReport(users=12, built=10, not_eligible=2)
        stored = assemble_story(tenant.app_id, "year-in-music", "user7", now=NOW)
        fresh = assemble_story(tenant.app_id, "year-in-music", "user7", now=NOW, fresh=True)
    assert stored["source"] == "precomputed" and stored["frames"] == fresh["frames"]
    assert query("SELECT COUNT(*) FROM precomputed_story")[0][0] == 10


def test_population_refresh_ranks_users_among_the_apps_listeners(app, live_server, runner, query):
    tenant = listeners(live_server)
    result = runner.invoke(args=["population", "refresh", "year-in-music", "--app", "Soundwave", *NOW_ARG])
    assert result.exit_code == 0, result.output
    assert "listen_ms: 12 users" in result.output
    with database.connection_context():
        top = assemble_story(tenant.app_id, "year-in-music", "user11", now=NOW, fresh=True)
    frame = next(f for f in top["frames"] if f["id"] == "top-percent")
    assert frame["stat"]["value"] == "Top 9%"  # rank 1 of 12 → ceil(100 / 12)
    rows = query("SELECT users FROM population_stat WHERE metric = 'listen_ms'")
    assert rows == [(12,)]


def test_templates_check_reports_the_key_path_of_a_broken_file(runner, tmp_path):
    good = runner.invoke(args=["templates", "check"])
    assert good.exit_code == 0 and "ok " in good.output and "year-in-music" in good.output
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "broken"\ntitle = "x"\n[period]\nkind = "decade"\n')
    result = runner.invoke(args=["templates", "check", str(broken)])
    assert result.exit_code != 0
    assert f"{broken}: period.kind: Must be one of" in result.output


def test_templates_check_dry_runs_against_an_apps_users(app, live_server, runner):
    listeners(live_server, 3)
    result = runner.invoke(args=["templates", "check", "--app", "Soundwave"])
    assert result.exit_code == 0, result.output
    assert "dry run on 3 users" in result.output


def test_preview_prints_the_story_or_why_not(app, live_server, runner):
    listeners(live_server, 4)
    result = runner.invoke(args=["templates", "preview", "year-in-music", "--user", "user3", "--app", "Soundwave",
                                 *NOW_ARG])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["template"] == "year-in-music"
    result = runner.invoke(args=["templates", "preview", "year-in-music", "--user", "user0", "--app", "Soundwave",
                                 *NOW_ARG])
    assert result.exit_code != 0 and "not_eligible" in result.output


def test_a_built_story_of_an_aliased_user_equals_the_on_demand_one(app, live_server):
    """"temp" aliased into "final": the build counts temp's plays for final alone, as on demand."""
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave")
    start = ms("2026-04-01T18:00:00")
    play = {"song": "Song", "artist": "Artist", "genre": "pop", "ms_played": 200_000}
    send(live_server, tenant.write_key, [
        *[track("temp", "Song Played", start + i * 86_400_000, play) for i in range(8)],
        {"type": "alias", "previousId": "temp", "userId": "final", "timestamp": iso(start + 9 * 86_400_000)},
        *[track("final", "Song Played", start + i * 86_400_000, play) for i in range(10, 14)]])
    with database.connection_context():
        app_row = App.get_by_id(tenant.app_id)
        template = registry.get(tenant.app_id, "year-in-music")
        period = resolve_period(template.spec["period"], NOW)
        counts = build(app_row, template, period, now=NOW, users=["temp", "final"])
        stored = assemble_story(tenant.app_id, "year-in-music", "final", now=NOW)
        fresh = assemble_story(tenant.app_id, "year-in-music", "final", now=NOW, fresh=True)
    assert counts == BuildReport(users=2, built=1, not_eligible=1)  # temp has nothing of its own
    assert stored["source"] == "precomputed" and stored["frames"] == fresh["frames"]
    assert next(f for f in fresh["frames"] if f["id"] == "minutes")["stat"]["value"] == "40"  # 12 plays


CARD_TITLE = card_title_lines((SHIPPED_DIR / "year_in_music.toml").read_text())


def test_a_built_story_is_served_only_for_the_template_version_it_was_built_from(app, live_server, runner):
    tenant = listeners(live_server, 4)
    shipped = (SHIPPED_DIR / "year_in_music.toml").read_text()
    assert CARD_TITLE in shipped
    result = runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave", *NOW_ARG])
    assert result.exit_code == 0 and "built 2 stories" in result.output, result.output
    with database.connection_context():
        assert assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)["source"] == "precomputed"
        # Saved and published as the app's version 2 (version 1 is the shipped text, copied in).
        template_store.save_draft(tenant.app_id, "year-in-music",
                                  shipped.replace(CARD_TITLE, 'title = "Your year, remastered"'), publish=True)
        edited = assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)
    assert edited["source"] == "on_demand" and edited["card"]["title"] == "Your year, remastered"
    token = viewer_token(live_server, tenant.secret_key, "user2")
    reply = http("GET", f"{live_server.url}/v1/stories/year-in-music", None, {"Authorization": f"Bearer {token}"})
    assert reply.status == 200 and reply.json()["card"]["title"] == "Your year, remastered"
    shared = http("POST", f"{live_server.url}/v1/shares", json.dumps({"template": "year-in-music"}).encode(),
                  {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert shared.status == 201, shared.body
    assert "Your year, remastered" in http("GET", shared.json()["url"]).body.decode()

    # Rebuilt from the new version, built stories are served again; going back to the old
    # content (version 1) does not bring back stories built from something else.
    assert runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave",
                               *NOW_ARG]).exit_code == 0
    with database.connection_context():
        rebuilt = assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)
        assert rebuilt["source"] == "precomputed" and rebuilt["card"]["title"] == "Your year, remastered"
        template_store.rollback(tenant.app_id, "year-in-music", 1)
        assert assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)["source"] == "on_demand"


def unreadable_profile(query, user: str) -> None:
    """Break one user's profile row, as a bad manual edit or another tool's write would: their
    story cannot be assembled, everyone else's can."""
    query("UPDATE profile SET traits = '{\"name\": ' WHERE user_id = ?", user)


def test_a_build_goes_past_users_whose_story_fails_and_names_them(app, live_server, runner, query):
    listeners(live_server)
    unreadable_profile(query, "user5")
    unreadable_profile(query, "user8")
    result = runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave", *NOW_ARG])
    assert result.exit_code == 1, result.output
    assert "built 8 stories (2 users not eligible, 2 failed)" in result.output
    assert "failed: user 'user5': JSONDecodeError" in result.output
    assert "failed: user 'user8': JSONDecodeError" in result.output
    assert "the stories of 2 of 12 users failed" in result.output
    built = {uid for (uid,) in query("SELECT user_id FROM precomputed_story")}
    assert built == {f"user{u}" for u in range(2, 12)} - {"user5", "user8"}


def test_a_build_in_several_processes_reports_failures_too(app, live_server, query):
    tenant = listeners(live_server)
    unreadable_profile(query, "user7")
    with database.connection_context():
        template = registry.get(tenant.app_id, "year-in-music")
        report = build(App.get_by_id(tenant.app_id), template, resolve_period(template.spec["period"], NOW),
                       now=NOW, workers=2, chunk_size=3, database_url=app.config["DATABASE_URL"])
    assert (report.users, report.built, report.not_eligible, report.failed) == (12, 9, 2, 1)
    assert [uid for uid, _ in report.failures] == ["user7"]


def test_a_build_names_a_bounded_number_of_failures(app, live_server, runner, query):
    listeners(live_server, 30)
    query("UPDATE profile SET traits = '[' WHERE user_id <> 'user29'")
    result = runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave", *NOW_ARG])
    assert result.exit_code == 1
    assert "built 1 stories (0 users not eligible, 29 failed)" in result.output
    assert result.output.count("failed: user ") == 20 and "… and 9 more" in result.output


def test_templates_check_of_a_folder_looks_at_every_depth(app, runner, tmp_path):
    tenant = make_tenant("Soundwave")
    app_template(app.instance_path, tenant.app_id, "year_in_music",
                 (SHIPPED_DIR / "year_in_music.toml").read_text().replace(CARD_TITLE, "title = 3"))
    templates = Path(app.instance_path) / "templates"
    result = runner.invoke(args=["templates", "check", str(templates)])
    assert result.exit_code == 1, result.output
    assert f"{templates}/{tenant.app_id}/year_in_music.toml: card.title: Must be a string" in result.output
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    nothing = runner.invoke(args=["templates", "check", str(tmp_path / "empty")])
    assert nothing.exit_code == 1 and "No template (*.toml) in" in nothing.output


def test_templates_check_with_an_app_checks_the_apps_own_templates(app, live_server, runner):
    tenant = listeners(live_server, 3)
    path = app_template(app.instance_path, tenant.app_id, "year_in_music",
                        (SHIPPED_DIR / "year_in_music.toml").read_text().replace(CARD_TITLE, "title = 3"))
    result = runner.invoke(args=["templates", "check", "--app", "Soundwave"])
    assert result.exit_code == 1, result.output
    assert f"{path}: card.title: Must be a string" in result.output
    assert f"ok {SHIPPED_DIR / 'learning_recap.toml'}" in result.output  # and the shipped ones, as before
    path.write_text((SHIPPED_DIR / "year_in_music.toml").read_text())
    fixed = runner.invoke(args=["templates", "check", "--app", "Soundwave"])
    assert fixed.exit_code == 0 and f"ok {path} (year-in-music" in fixed.output and "dry run on 3 users" in fixed.output


def test_a_dry_run_names_the_users_whose_story_fails(app, live_server, runner, query):
    listeners(live_server, 3)
    unreadable_profile(query, "user1")
    result = runner.invoke(args=["templates", "check", "--app", "Soundwave"])
    assert result.exit_code == 1, result.output
    assert "dry run on 3 users: 0 eligible, 0 frames, 1 failed" in result.output
    assert "user 'user1': JSONDecodeError" in result.output


def test_stories_built_before_versions_were_kept_are_not_served(app, live_server, runner, query):
    """A store from before schema 5 gets the column on upgrade; its built stories name no version,
    so none is served for what the template is now: they are assembled on demand until a rebuild."""
    tenant = listeners(live_server, 4)
    assert runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave",
                               *NOW_ARG]).exit_code == 0
    query("ALTER TABLE precomputed_story DROP COLUMN built_from")
    query("DELETE FROM schema_version WHERE version >= 5")  # and the steps after it, which it then gets too
    for table in ("build_chunk", "story_build", "job"):
        query(f"DROP TABLE {table}")
    from widget_server.store.migrations import MIGRATIONS, upgrade

    database.close()
    assert upgrade() == list(range(5, len(MIGRATIONS) + 1))
    assert query("SELECT DISTINCT built_from FROM precomputed_story") == [("",)]
    with database.connection_context():
        assert assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)["source"] == "on_demand"


def test_build_and_refresh_of_an_invalid_or_unknown_template_say_so(app, live_server, runner):
    tenant = listeners(live_server, 2)
    path = app_template(app.instance_path, tenant.app_id, "year_in_music",
                        (SHIPPED_DIR / "year_in_music.toml").read_text().replace(CARD_TITLE, "title = 3"))
    for command in (["stories", "build"], ["population", "refresh"]):
        broken = runner.invoke(args=[*command, "year-in-music", "--app", "Soundwave", *NOW_ARG])
        assert broken.exit_code == 1 and isinstance(broken.exception, SystemExit), broken.exception
        assert f"{path}: card.title: Must be a string" in broken.output
        assert "The template 'year-in-music' is invalid." in broken.output
        unknown = runner.invoke(args=[*command, "no-such", "--app", "Soundwave", *NOW_ARG])
        assert unknown.exit_code == 1 and "No story template named 'no-such'." in unknown.output


def test_a_built_story_is_not_served_once_the_apps_settings_it_shows_changed(app, live_server, runner):
    tenant = listeners(live_server, 4)
    assert runner.invoke(args=["stories", "build", "--inline", "year-in-music", "--app", "Soundwave",
                               *NOW_ARG]).exit_code == 0
    with database.connection_context():
        assert assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)["source"] == "precomputed"
        App.update(brand={"accent": "#ff0066"}).where(App.id == tenant.app_id).execute()
        rebranded = assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)
        assert rebranded["source"] == "on_demand" and rebranded["theme"]["accent"] == "#ff0066"
        App.update(share_base_url="https://soundwave.app").where(App.id == tenant.app_id).execute()
        assert assemble_story(tenant.app_id, "year-in-music", "user3", now=NOW)["card"]["footer"] == "soundwave.app"
