"""The demo: its generator drives both apps through the SDK into a real server, and the URLs it
prints (host pages with stories, share pages) work over real HTTP."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date

import pytest
from babel.numbers import format_decimal

from demo_app import learning, music
from demo_app.catalog import build_catalog
from demo_app.generate import generate, year_window
from demo_app.notifications import announce_release
from demo_app.people import make_people
from demo_app.run import HostSite, showcase_shares, story_url
from demo_app.terminal_qr import qr_text
from helpers.demo import served_demo
from helpers.server import basic, http
from widget_server.store.sqlite_files import sqlite3

USERS, SEED = 12, 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A generated demo instance, served by the widget server (gunicorn) and the host page."""
    instance = tmp_path_factory.mktemp("demo")
    with served_demo(instance, USERS, SEED) as (server, apps, report):
        users = {kind: [app.showcase_user] for kind, app in apps.items()}
        host = HostSite(server.url, apps, users, year_window()[1].year).start()
        try:
            yield {"instance": instance, "server": server, "host": host, "apps": apps, "report": report}
        finally:
            host.stop()


def rows(demo, sql, *params):
    with sqlite3.connect(demo["instance"] / "recap.sqlite3") as db:
        return db.execute(sql, params).fetchall()


def test_every_event_is_delivered_and_none_dropped(demo):
    report = demo["report"]
    assert not report.skipped and report.sent["music"] > 1000 and report.sent["learning"] > 100
    assert report.dropped == {"music": 0, "learning": 0}
    assert sum(report.delivered.values()) == sum(report.sent.values()) + report.web_requests
    (stored,), = rows(demo, "SELECT count(*) FROM event")
    assert stored == sum(report.delivered.values())


def test_a_second_run_adds_nothing(demo):
    before = rows(demo, "SELECT count(*) FROM event")
    _, again = generate(demo["instance"], users=USERS, seed=SEED, server=demo["server"], show_progress=False)
    assert again.skipped
    # Forced, every event is sent again with the same message id and the server keeps one copy
    # (web page views are real requests made now, so they are new events).
    _, forced = generate(demo["instance"], users=USERS, seed=SEED, server=demo["server"], show_progress=False,
                         force=True)
    assert not forced.skipped
    (after,), = rows(demo, "SELECT count(*) FROM event WHERE type != 'page'")
    (pages,), = rows(demo, "SELECT count(*) FROM event WHERE type = 'page'")
    assert after + pages - forced.web_requests == before[0][0]


def test_events_follow_the_story_contract(demo):
    props = [json.loads(p) for (p,) in rows(demo, "SELECT properties FROM event WHERE name = 'Song Played' LIMIT 200")]
    assert all({"song_id", "song", "artist", "album", "genre", "ms_played", "device"} <= set(p) for p in props)
    assert all(isinstance(p["ms_played"], int) for p in props)
    lessons = [json.loads(p) for (p,) in
               rows(demo, "SELECT properties FROM event WHERE name = 'Lesson Completed' LIMIT 200")]
    assert all({"lesson_id", "lesson", "course", "points", "duration_s", "score"} <= set(p) for p in lessons)
    assert all(0 <= p["score"] <= 100 for p in lessons)
    zones = {json.loads(c)["timezone"] for (c,) in rows(demo, "SELECT context FROM event WHERE type = 'track'")}
    assert len(zones) >= 3
    assert rows(demo, "SELECT count(*) FROM event WHERE name IN ('Badge Earned', 'Milestone Reached')")[0][0] > 0
    import time
    (latest,), = rows(demo, "SELECT max(timestamp) FROM event WHERE type != 'page'")
    assert latest < time.time() * 1000  # nothing in the future, in any time zone


def test_web_visits_are_captured_without_tags(demo):
    pages = [json.loads(p) for (p,) in rows(demo, "SELECT properties FROM event WHERE type = 'page'")]
    assert pages and {"/", "/songs/<song_id>/play"} <= {p["route"] for p in pages}
    assert any(p["method"] == "POST" for p in pages)  # the Play button click


def test_anonymous_listeners_are_joined_to_their_account(demo):
    people = make_people("sw", USERS, SEED, *year_window())
    late = [p for p in people if p.anonymous_until is not None]
    assert late, "the seed should include users who start anonymous"
    for person in late:
        assert rows(demo, "SELECT user_id FROM identity WHERE actor = ?", "a:" + person.anonymous_id) \
            == [(person.user_id,)]


@pytest.mark.parametrize("kind", ["music", "learning"])
def test_host_page_embeds_the_story_without_the_secret_key(demo, kind):
    app = demo["apps"][kind]
    page = http("GET", story_url(demo["host"].url, app))
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.body.decode()
    assert app.secret_key not in html and "rcp_s_" not in html and app.write_key not in html
    embed = html.split('src="', 1)[1].split('"', 1)[0]
    assert embed.startswith(f"{demo['server'].url}/embed/{app.template}?token=")
    assert http("GET", embed).status == 200
    token = embed.split("token=", 1)[1]
    story = http("GET", f"{demo['server'].url}/v1/stories/{app.template}", headers={"Authorization": f"Bearer {token}"})
    assert story.status == 200, story.body
    body = story.json()
    assert body["app"]["name"] == app.name and body["frames"][-1]["kind"] == "card"
    assert body["theme"]["accent"] == {"music": music, "learning": learning}[kind].BRAND["accent"]  # the app's own


def test_learning_showcase_photo_is_served(demo):
    (traits,), = rows(demo, "SELECT traits FROM profile WHERE user_id = 'lg-0000'")
    photo = json.loads(traits)["photo_url"]
    assert photo.startswith(demo["server"].url)
    reply = http("GET", photo)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("image/")


def test_the_demo_runs_a_worker_that_draws_new_share_images_before_anyone_asks(demo):
    shares = showcase_shares(demo["instance"], demo["server"].url, demo["apps"], USERS)  # made here: no image asked for
    cache = demo["instance"] / "share_cache"
    deadline = time.monotonic() + 30
    while len(list(cache.rglob("*.png"))) < 4 * len(shares) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(list(cache.rglob("*.png"))) == 4 * len(shares), (demo["instance"] / "worker.log").read_text()


@pytest.mark.parametrize("kind", ["music", "learning"])
def test_share_page_works_and_is_reused(demo, kind):
    shares = showcase_shares(demo["instance"], demo["server"].url, demo["apps"], USERS)
    user = demo["apps"][kind].showcase_user
    page = http("GET", shares[user].url)
    assert page.status == 200 and b'og:image' in page.body
    assert http("GET", shares[user].images["story"]).headers["Content-Type"] == "image/png"
    assert showcase_shares(demo["instance"], demo["server"].url, demo["apps"], USERS)[user].url == shares[user].url


def test_every_user_reads_the_app_in_their_countrys_language(demo):
    """Each user's events carry ``context.locale`` (the server keeps the latest on the profile):
    Lingo's learners are for a good part in Spain, Mexico and Turkey."""
    for app in demo["apps"].values():
        people = make_people(app.prefix, USERS, SEED, *year_window())
        stored = dict(rows(demo, "SELECT user_id, locale FROM profile WHERE app_id = ? AND user_id LIKE ?",
                           app.app_id, app.prefix + "-%"))
        assert stored == {p.user_id: p.locale for p in people}
    learners = [p.locale for p in make_people("lg", 300, SEED, *year_window())]
    assert sum(tag in ("es-ES", "es-MX", "tr-TR") for tag in learners) > 100 and "tr-TR" in learners


def showcase_story(demo, kind: str, user: str) -> dict:
    app = demo["apps"][kind]
    reply = http("GET", f"{demo['server'].url}/v1/stories/{app.template}?user_id={user}", None, basic(app.secret_key))
    assert reply.status == 200, reply.body
    return reply.json()


@pytest.mark.parametrize(("user", "locale", "title", "unit", "card"), [
    ("lg-0001", "es-ES", "Tu {year} aprendiendo", "lecciones", "Así aprendió Lucía en {year}"),
    ("lg-0002", "tr-TR", "{year} Öğrenme Özetin", "ders", "Zeynep · {year} Öğrenme Karnesi"),
])
def test_spanish_and_turkish_learners_get_their_story_in_their_language(demo, user, locale, title, unit, card):
    story = showcase_story(demo, "learning", user)
    year = year_window()[1].year
    assert (story["locale"], story["title"], story["card"]["title"]) == (locale, title.format(year=year),
                                                                         card.format(year=year))
    frames = {f["id"]: f for f in story["frames"]}
    lessons, points = frames["lessons"]["stat"], frames["points"]["stat"]
    assert lessons["unit"] == unit
    # numbers as CLDR writes them for the locale ("2.938" in Spain and Turkey), by Babel itself
    for stat in (lessons, points):
        assert stat["value"] == format_decimal(stat["raw"], locale=locale.replace("-", "_"))
    assert points["raw"] >= 1000 and "." in points["value"]
    shown = {s["label"]: s["value"] for s in story["card"]["stats"]}
    assert shown[{"es-ES": "Puntos", "tr-TR": "Puan"}[locale]] == points["value"]
    assert frames["card"]["buttons"][0]["label"] == {"es-ES": "Compartir", "tr-TR": "Paylaş"}[locale]
    # the app sends its course names in the learner's language, and the story's level is theirs too
    assert not {"Spanish", "French", "German", "Japanese", "Italian", "Korean"} & set(story["card"]["list"]["items"])
    assert points["caption"].startswith({"es-ES": "Nivel: ", "tr-TR": "Seviye: "}[locale])
    assert not any(word in points["caption"] for word in ("Beginner", "Scholar", "Seeker", "Master"))


def test_the_japanese_listeners_story_and_share_carry_her_name(demo):
    story = showcase_story(demo, "music", "sw-0001")
    assert story["locale"] == "ja-JP" and story["frames"][0]["title"].startswith("佐藤さん、")
    assert "佐藤" in story["card"]["title"]
    share = showcase_shares(demo["instance"], demo["server"].url, demo["apps"], USERS)["sw-0001"]
    page = http("GET", share.url).body.decode()
    assert "佐藤" in page and "Soundwaveで聴いた私の一年" in page


def test_terminal_qr_code_decodes_to_the_share_url():
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    url = "http://127.0.0.1:8000/s/Sw-nG4sqit96NcqZFbChfA.tKAG4y0Ieka7R9CbziE7JLPYLSc"
    lines = qr_text(url).splitlines()
    # Each character is two modules stacked: the upper and lower half, "light" when drawn.
    halves = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0), "\xa0": (0, 0)}
    width, scale = max(len(line) for line in lines), 8
    image = Image.new("L", (width * scale, len(lines) * 2 * scale), 255)
    for y, line in enumerate(lines):
        for x, char in enumerate(line):
            for half, light in enumerate(halves[char]):
                if not light:
                    image.paste(0, (x * scale, (2 * y + half) * scale, (x + 1) * scale, (2 * y + half + 1) * scale))
    found = zxingcpp.read_barcodes(image)
    assert [b.text for b in found] == [url]


def test_same_seed_gives_the_same_events():
    class Recorder:
        def __init__(self):
            self.calls = []

        def track(self, **kw):
            self.calls.append(("track", kw["message_id"], kw["event"], kw["timestamp"], kw["properties"]))

        def identify(self, **kw):
            self.calls.append(("identify", kw["message_id"], kw["traits"]))

        def alias(self, **kw):
            self.calls.append(("alias", kw["message_id"], kw["previous_id"]))

    end = date(2026, 6, 30)

    def run(seed):
        out = Recorder()
        catalog = build_catalog(seed)
        for person in make_people("sw", 4, seed, date(2026, 1, 1), end):
            music.generate(person, catalog, seed, end, out)
        for person in make_people("lg", 4, seed, date(2026, 1, 1), end):
            learning.generate(person, seed, end, out)
        return out.calls

    first = run(5)
    assert first == run(5) and first != run(6)
    ids = [call[1] for call in first]
    assert len(ids) == len(set(ids))


def test_popularity_is_skewed():
    catalog = build_catalog(1)
    import random
    rng = random.Random(0)
    plays = {}
    for _ in range(20_000):
        artist = catalog.pick(rng).artist
        plays[artist] = plays.get(artist, 0) + 1
    counts = sorted(plays.values(), reverse=True)
    assert counts[0] > 5 * counts[len(counts) // 2]


def test_help_lists_the_options():
    result = subprocess.run([sys.executable, "-m", "demo_app", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--users", "--seed", "--port", "--instance", "--no-serve"):
        assert option in result.stdout


@pytest.mark.parametrize("args, message", [(["--users", "0"], "--users"), (["--port", "0"], "--port"),
                                           (["--users", "x"], "invalid int"), (["--bogus"], "unrecognized")])
def test_bad_options_are_refused_clearly(args, message):
    result = subprocess.run([sys.executable, "-m", "demo_app", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["music", "learning"])
def test_host_page_opens_the_player_on_a_phone(demo, phone, kind):
    app = demo["apps"][kind]
    phone.goto(story_url(demo["host"].url, app))
    frame = phone.frame_locator("#story")
    frame.locator(".recap-root").first.wait_for(state="visible", timeout=15_000)
    assert app.secret_key not in phone.content()


def test_the_command_prints_working_urls_and_stops_cleanly(tmp_path):
    """`python -m demo_app` as the README runs it: the printed story and share URLs answer, the QR
    code is printed, and a plain `kill` stops the widget server with it."""
    import re
    import signal
    import time

    from demo_app.serving import free_port, port_is_free

    port = next(p for p in iter(free_port, None) if port_is_free(p + 1))  # the host page takes port + 1
    command = [sys.executable, "-m", "demo_app", "--users", "4", "--port", str(port), "--instance",
               str(tmp_path / "instance")]
    errors = (tmp_path / "stderr.txt").open("w")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(lines)
        assert "Press Ctrl-C" in output, output + (tmp_path / "stderr.txt").read_text()
        urls = re.findall(r"http://127\.0\.0\.1:\d+/\S+", output)
        stories = [u for u in urls if re.search(r"/(music|learning)/", u)]
        shares = [u for u in urls if "/s/" in u]
        # the showcase users: user 0 of each app, the Japanese listener, the Spanish and the Turkish learner
        assert len(stories) == 5 and len(shares) == 5
        assert all(http("GET", u).status == 200 for u in stories + shares)
        assert "█" in output  # the QR code
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (tmp_path / "stderr.txt").read_text()
        errors.close()
    assert port_is_free(port) and port_is_free(port + 1)


def test_a_release_is_told_to_the_artists_fans_once_through_the_signed_webhook(demo):
    music_app = demo["apps"]["music"]
    told = announce_release(demo["instance"], demo["server"].url, music_app, year_window()[1].year)
    assert 1 <= told.fans <= told.listeners == USERS
    assert told.notified == told.fans  # every fan's notification arrived, its signature verified
    again = announce_release(demo["instance"], demo["server"].url, music_app, year_window()[1].year)
    assert (again.artist, again.notified) == (told.artist, told.fans)  # the same release: nobody twice
    assert rows(demo, "SELECT COUNT(*) FROM delivery WHERE app_id = ?", music_app.app_id) == [(told.fans,)]
