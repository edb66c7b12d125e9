"""The ``recap`` command itself, as an operator runs it: configured by the environment, on a real
instance folder; the keys it prints work against the server.

``recap(...)`` runs a command in this process (click's runner, the environment set as an
operator's shell would set it, stdout and stderr apart): what a command does and prints does not
depend on the process around it, and a new interpreter importing Flask cost ~2 s a call.
``recap.process(...)`` runs the installed ``recap`` script as a real process: every command
these tests run (apps create and list, keys rotate-signing, db upgrade, templates check, --help)
is run that way at least once, so the entry point and its wiring are tested too.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from helpers.server import LiveServer, basic, http
from widget_server import create_app
from widget_server.cli import main
from widget_server.store.db import database

RECAP = os.path.join(os.path.dirname(sys.executable), "recap")


@pytest.fixture
def recap(tmp_path):
    instance = tmp_path / "instance"
    env = {**os.environ, "RECAP_INSTANCE_PATH": str(instance)}
    env.pop("RECAP_DATABASE_URL", None)

    def run(*args: str) -> SimpleNamespace:
        """The command in this process; an exception it does not handle fails the test."""
        result = CliRunner().invoke(main, list(args), prog_name="recap", catch_exceptions=False,
                                    env={"RECAP_INSTANCE_PATH": str(instance), "RECAP_DATABASE_URL": None})
        database.close() if not database.is_closed() else None
        return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)

    def process(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([RECAP, *args], env=env, capture_output=True, text=True, timeout=60)

    run.instance = instance
    run.process = process
    return run


def printed(output: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def test_apps_create_prints_keys_once_that_then_work(recap):
    created = recap.process("apps", "create", "My App", "--timezone", "Europe/Berlin", "--deep-link-scheme", "myapp")
    assert created.returncode == 0, created.stderr
    keys = printed(created.stdout)
    assert keys["write_key"].startswith("rcp_w_") and keys["secret_key"].startswith("rcp_s_")
    listed = recap.process("apps", "list")
    assert "My App" in listed.stdout and keys["write_key"] not in listed.stdout  # prefixes only
    app = create_app({"INSTANCE_PATH": str(recap.instance), "TESTING": True})
    server = LiveServer(app).start()
    try:
        reply = http("POST", server.url + "/v1/track", json.dumps({"userId": "u1", "event": "Opened"}).encode(),
                     {"Content-Type": "application/json", **basic(keys["write_key"])})
        assert reply.status == 200 and reply.json()["stored"] == 1
        token = http("POST", server.url + "/v1/viewer-tokens", json.dumps({"user_id": "u1"}).encode(),
                     {"Content-Type": "application/json", **basic(keys["secret_key"])})
        assert token.status == 201
    finally:
        server.stop()
        database.close()


@pytest.mark.parametrize("args, option", [
    (["--timezone", "Mars/Base"], "--timezone"),
    (["--deep-link-scheme", "javascript"], "--deep-link-scheme"),
    (["--deep-link-scheme", "My App"], "--deep-link-scheme"),
    (["--share-base-url", "music.example"], "--share-base-url"),
    (["--share-base-url", "https://music.example/?ref=1"], "--share-base-url"),
])
def test_apps_create_refuses_bad_settings_by_name(recap, args, option):
    result = recap("apps", "create", "Bad", *args)
    assert result.returncode == 2 and f"Invalid value for '{option}'" in result.stderr
    assert "Bad" not in recap("apps", "list").stdout


def test_app_names_are_unique_and_not_empty(recap):
    assert recap("apps", "create", "Twice").returncode == 0
    again = recap("apps", "create", "Twice")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert recap("apps", "create", "  ").returncode == 2


CERT = ":".join(["5E"] * 32)


def test_apps_update_sets_what_the_embed_page_the_story_and_the_app_links_serve(recap):
    keys = printed(recap.process("apps", "create", "Lingo", "--accent", "#ffb020").stdout)
    changed = recap.process("apps", "update", "--app", "Lingo", "--background", "#1b1f3b",
                            "--frame-ancestors", "https://lingo.example, https://*.lingo.example",
                            "--share-base-url", "https://lingo.example", "--android-package", "com.lingo.app",
                            "--android-cert", CERT.lower(), "--apple-app-id", "ABCDE12345.com.lingo.app")
    assert changed.returncode == 0, changed.stderr
    assert "Lingo: changed share_base_url, frame_ancestors, background, app_links.android, app_links.apple." \
        in changed.stdout
    assert "nothing changed" in recap("apps", "update", "--app", "Lingo", "--accent", "#ffb020").stdout
    stores = recap("apps", "update", "--app", "Lingo", "--app-store-url", "https://apps.apple.com/app/id42")
    assert stores.stdout.strip() == "Lingo: changed store_links.ios."
    shown = printed(recap("apps", "show", "--app", "Lingo").stdout)
    assert shown["accent"] == "#ffb020" and shown["background"] == "#1b1f3b" and shown["foreground"].startswith("-")
    assert shown["store_links.ios"] == "https://apps.apple.com/app/id42" and shown["store_links.android"] == "-"
    assert keys["secret_key"] not in str(shown) and keys["write_key"] not in str(shown)
    app = create_app({"INSTANCE_PATH": str(recap.instance), "TESTING": True})
    with app.test_client() as client:
        token = client.post("/v1/viewer-tokens", json={"user_id": "u1"}, headers=basic(keys["secret_key"])).json
        embed = client.get(f"/embed/learning-recap?token={token['token']}")
        policy = embed.headers["Content-Security-Policy"]
        assert "frame-ancestors https://lingo.example https://*.lingo.example" in policy
        android = client.get("/.well-known/assetlinks.json", headers={"Host": "lingo.example"}).json
        assert android[0]["target"] == {"namespace": "android_app", "package_name": "com.lingo.app",
                                        "sha256_cert_fingerprints": [CERT]}
        apple = client.get("/.well-known/apple-app-site-association").json
        assert apple["applinks"]["details"] == [{"appIDs": ["ABCDE12345.com.lingo.app"], "components": [{"/": "/s/*"}]}]
    database.close()
    cleared = recap("apps", "update", "--app", "Lingo", "--accent", "", "--frame-ancestors", "", "--share-base-url", "")
    assert cleared.stdout.strip() == "Lingo: changed share_base_url, frame_ancestors, accent."
    shown = printed(recap("apps", "show", "--app", "Lingo").stdout)
    assert shown["accent"].startswith("-") and shown["frame_ancestors"].startswith("*")
    assert shown["share_base_url"] == "-"


@pytest.mark.parametrize("args, option", [
    (["--accent", "green"], "--accent"),
    (["--background", "#12345678"], "--background"),  # cards are opaque
    (["--frame-ancestors", "https://ok.example javascript:alert(1)"], "--frame-ancestors"),
    (["--frame-ancestors", "https://ok.example; script-src *"], "--frame-ancestors"),
    (["--android-package", "com.x", "--android-cert", "AB:CD"], "--android-cert"),
    (["--apple-app-id", "com.example.music"], "--apple-app-id"),
    (["--app-store-url", "https://apps.apple.example/app/id1"], "--app-store-url"),
    (["--play-store-url", "http://play.google.com/store/apps/details?id=x"], "--play-store-url"),
    (["--timezone", "Mars/Base"], "--timezone"),
    (["--name", " "], "--name"),
])
def test_apps_update_refuses_bad_settings_by_name_and_changes_nothing(recap, args, option):
    recap("apps", "create", "Kept", "--accent", "#123456")
    before = recap("apps", "show", "--app", "Kept").stdout
    result = recap("apps", "update", "--app", "Kept", "--background", "#000000", *args)
    assert result.returncode == 2 and f"Invalid value for '{option}'" in result.stderr
    assert recap("apps", "show", "--app", "Kept").stdout == before


def test_apps_update_needs_a_known_app_and_a_package_with_its_certificate(recap):
    recap("apps", "create", "Known")
    unknown = recap("apps", "update", "--app", "Unknown", "--accent", "#000000")
    assert unknown.returncode == 1 and "No app named 'Unknown'" in unknown.stderr
    alone = recap("apps", "update", "--app", "Known", "--android-package", "com.known.app")
    assert alone.returncode == 2 and "--android-package and --android-cert go together" in alone.stderr
    recap("apps", "create", "Other")
    taken = recap("apps", "update", "--app", "Known", "--name", "Other")
    assert taken.returncode == 1 and "already exists" in taken.stderr


def test_signing_keys_rotate_and_old_tokens_still_verify(recap):
    keys = printed(recap("apps", "create", "Signed").stdout)
    app = create_app({"INSTANCE_PATH": str(recap.instance), "TESTING": True})
    with app.test_client() as client:
        token = client.post("/v1/viewer-tokens", json={"user_id": "u1"},
                            headers=basic(keys["secret_key"])).json["token"]
    database.close()
    rotated = recap.process("keys", "rotate-signing")
    assert rotated.returncode == 0 and "2 signing keys" in rotated.stdout
    app = create_app({"INSTANCE_PATH": str(recap.instance), "TESTING": True})  # a restart reads the new key
    with app.test_client() as client:
        reply = client.get("/v1/stories/year-in-music", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code != 401, reply.json  # signed with the old key, still accepted
        newer = client.post("/v1/viewer-tokens", json={"user_id": "u1"}, headers=basic(keys["secret_key"])).json
    database.close()
    assert newer["token"] != token


def test_a_secret_key_rotated_by_the_command_is_refused_at_once_by_a_running_server(recap):
    """`recap keys rotate` runs in a process of its own: a server that accepted the old secret key
    a moment before refuses it on the next request (each process had kept the keys it saw for 30 s:
    a leaked secret key went on reading users' data after its rotation)."""
    keys = printed(recap.process("apps", "create", "Rotated").stdout)
    app = create_app({"INSTANCE_PATH": str(recap.instance), "TESTING": True})
    server = LiveServer(app).start()
    try:
        def status(key: str) -> int:
            return http("GET", server.url + "/v1/triggers", None, basic(key)).status

        assert status(keys["secret_key"]) == 200
        rotated = recap.process("keys", "rotate", "Rotated", "--kind", "secret")
        assert rotated.returncode == 0, rotated.stderr
        assert status(keys["secret_key"]) == 401
        assert status(printed(rotated.stdout)["secret_key"]) == 200
    finally:
        server.stop()
        database.close()


def test_db_upgrade_and_help(recap):
    first = recap.process("db", "upgrade")
    assert first.returncode == 0 and "up to date" in first.stdout  # every start upgrades already
    top = recap.process("--help")
    assert "RECAP_INSTANCE_PATH" in top.stdout and "apps create" in top.stdout
    for group in ("apps", "keys", "db", "users", "stories", "templates", "shares"):
        assert recap(group, "--help").returncode == 0, group


def test_templates_check_finds_every_apps_templates_and_fails_on_a_broken_one(recap):
    assert recap("apps", "create", "Checked").returncode == 0
    templates = recap.instance / "templates"
    (templates / "1").mkdir(parents=True)
    broken = templates / "1" / "broken.toml"
    broken.write_text('id = "broken"\ntitle = "x"\n[period]\nkind = "decade"\n')
    for run, args in ((recap.process, ["templates", "check", str(templates)]),
                      (recap, ["templates", "check", "--app", "Checked"])):
        result = run(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert f"{broken}: period.kind: Must be one of" in result.stderr
    (templates / "empty").mkdir()
    nothing = recap("templates", "check", str(templates / "empty"))
    assert nothing.returncode == 1 and "No template (*.toml) in" in nothing.stderr


YELLOW = """id = "yellow"
title = "t"
[period]
kind = "last_days"
days = 7
[metrics.points]
kind = "count"
event = "Lesson Completed"
[[frames]]
id = "points"
kind = "stat"
title = "Points earned"
stat = { value = "{{ points }}", unit = "points" }
background = { gradient = ["#ffc800", "#ff9600"] }
[card]
title = "c"
background = { color = "#121212" }
"""


def test_templates_check_refuses_text_under_aa_contrast_naming_frame_text_and_ratio(recap, tmp_path):
    path = tmp_path / "yellow.toml"
    path.write_text(YELLOW)
    result = recap.process("templates", "check", str(path))
    assert result.returncode == 1, result.stdout
    assert f"{path}: frames[0]: frames points: title #ffffff on #ffcd17 is 1.50:1, under AA's 3:1" in result.stderr
    assert f"failed {path} (yellow: " in result.stderr
    path.write_text(YELLOW.replace('gradient = ["#ffc800", "#ff9600"]', 'gradient = ["#816400", "#864d00"]'))
    passed = recap("templates", "check", str(path))
    assert passed.returncode == 0 and passed.stdout.startswith(f"ok {path}"), passed.stderr
    shipped = recap("templates", "check")
    assert shipped.returncode == 0, shipped.stderr


def test_templates_check_refuses_a_card_with_more_stats_than_it_shows(recap, tmp_path):
    path = tmp_path / "crowded.toml"
    stats = ", ".join(f'{{ label = "Stat {i}", value = "{i}" }}' for i in range(5))
    dark = YELLOW.replace('gradient = ["#ffc800", "#ff9600"]', 'color = "#121212"').replace("yellow", "crowded")
    path.write_text(dark.replace('title = "c"', f'title = "c"\nstats = [{stats}]'))
    result = recap.process("templates", "check", str(path))
    assert result.returncode == 1, result.stdout
    assert f"{path}: card.stats: 5 stats, but the card shows at most 4" in result.stderr
    path.write_text(path.read_text().replace(', { label = "Stat 4", value = "4" }', ""))
    assert recap("templates", "check", str(path)).returncode == 0


def test_a_store_locked_past_its_timeout_is_one_line_and_a_retryable_status(recap):
    assert recap("apps", "list").returncode == 0  # the store exists
    holder = sqlite3.connect(recap.instance / "recap.sqlite3")
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the store (a long import, a stuck job)
    try:
        env = {**os.environ, "RECAP_INSTANCE_PATH": str(recap.instance), "RECAP_SQLITE_BUSY_TIMEOUT_MS": "200"}
        env.pop("RECAP_DATABASE_URL", None)
        stopped = subprocess.run([RECAP, "apps", "create", "Blocked"], env=env, capture_output=True, text=True,
                                 timeout=60)
    finally:
        holder.rollback()
        holder.close()
    assert stopped.returncode == 75, stopped.stderr  # EX_TEMPFAIL: a script may run it again
    assert "Traceback" not in stopped.stderr
    assert stopped.stderr.startswith("Error: The store is busy with other writes; retry shortly. (store_busy;")
    assert "Blocked" not in recap("apps", "list").stdout  # and nothing was made
    assert recap("apps", "create", "Blocked").returncode == 0  # once the lock is gone, it works
