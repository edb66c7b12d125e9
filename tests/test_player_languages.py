"""The player in its languages (its own labels, screen-reader labels and error screens) and right to
left: in an Arabic story the forward tap zone, the swipe and the arrows mirror, and progress runs
from the right."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.player import fill, mount_preview, player_page, preview_story, wait_index
from helpers.server import http, make_tenant
from helpers.story import ms, send, track, viewer_token
from widget_server.player.strings import FOLDER, language_for

pytestmark = pytest.mark.browser

# The error heading of a link that does not work, as each language's table has it (strings.js).
INVALID = {"en": "This story link doesn’t work", "de": "Dieser Story-Link funktioniert nicht",
           "fr": "Ce lien ne fonctionne pas", "es": "Este enlace no funciona", "pt-BR": "Este link não funciona",
           "tr": "Bu hikâye bağlantısı çalışmıyor", "ja": "このストーリーのリンクは使えません",
           "ar": "رابط القصة هذا لا يعمل"}


def arabic_story() -> dict:
    return {**preview_story(), "locale": "ar", "direction": "rtl", "title": "عامك في الموسيقى"}


def test_an_arabic_story_runs_right_to_left(phone, live_server, site):
    mount_preview(phone, live_server, site, arabic_story())
    assert phone.get_attribute(".recap-player", "dir") == "rtl"
    assert phone.get_attribute(".recap-player", "lang") == "ar"
    assert phone.get_attribute(".recap-close", "aria-label") == "إغلاق القصة"
    assert phone.get_attribute(".recap-next", "aria-label") == "الصفحة التالية"
    phone.touchscreen.tap(60, 420)           # the left goes forward
    wait_index(phone, 1)
    phone.touchscreen.tap(60, 420)
    wait_index(phone, 2)
    phone.touchscreen.tap(360, 420)          # the right third goes back
    wait_index(phone, 1)
    phone.mouse.move(80, 500)                # a swipe to the right goes forward
    phone.mouse.down()
    phone.mouse.move(200, 505, steps=3)
    phone.mouse.move(320, 510, steps=3)
    phone.mouse.up()
    wait_index(phone, 2)
    phone.keyboard.press("ArrowLeft")        # and so does ←
    wait_index(phone, 3)
    phone.keyboard.press("ArrowRight")
    wait_index(phone, 2)
    # progress: the first frame's segment is the rightmost, and segments fill from their right end
    boxes = [phone.locator(".recap-seg").nth(i).bounding_box() for i in range(5)]
    assert all(boxes[i]["x"] > boxes[i + 1]["x"] for i in range(4))
    assert fill(phone, 0) == 1 and fill(phone, 3) == 0
    origin = phone.evaluate("getComputedStyle(document.querySelector('.recap-seg-fill')).transformOrigin")
    width = boxes[0]["width"]
    assert float(origin.split("px")[0]) == pytest.approx(width, abs=1)


def test_an_english_story_still_taps_forward_on_the_right(phone, live_server, site):
    mount_preview(phone, live_server, site, {**preview_story(), "locale": "en-GB", "direction": "ltr"})
    assert phone.get_attribute(".recap-player", "dir") == "ltr"
    phone.touchscreen.tap(60, 420)
    phone.touchscreen.tap(300, 420)
    wait_index(phone, 1)  # the first tap (left third, at the start) could not go back from frame 0


@pytest.mark.parametrize("tag", list(INVALID))
def test_the_error_screen_speaks_the_players_languages(phone, live_server, site, tag):
    mounting = (f"<script>Recap.story('#mount', {{token: 'not-a-token', template: 'year-in-music', "
                f"host: '{live_server.url}', locale: '{tag}'}});</script>")
    phone.goto(site.page("/", player_page(live_server, mounting)))
    phone.wait_for_selector(".recap-error[data-error='invalid']")
    assert phone.inner_text(".recap-error h2") == INVALID[tag]
    assert phone.get_attribute(".recap-error", "dir") == ("rtl" if tag == "ar" else "ltr")


def test_a_japanese_story_labels_its_controls_in_japanese(phone, live_server, site):
    mount_preview(phone, live_server, site, {**preview_story(), "locale": "ja-JP", "direction": "ltr"})
    assert phone.get_attribute(".recap-close", "aria-label") == "ストーリーを閉じる"
    assert phone.get_attribute(".recap-frame", "aria-label").startswith("1 / 5")
    assert phone.get_attribute(".recap-player", "aria-roledescription") == "ストーリー"


def test_every_language_has_every_word_and_the_player_knows_them_all():
    english = json.loads((FOLDER / "en.json").read_text())
    tables = {path.stem: json.loads(path.read_text()) for path in FOLDER.glob("*.json")}
    assert set(tables) == set(INVALID)
    for language, table in tables.items():
        assert table["language"] == language and set(english) - {"language"} <= set(table), language
    source = (Path(__file__).resolve().parents[1] / "js" / "player" / "strings.js").read_text()
    listed = re.search(r"export const LANGUAGES = \[(.*?)\];", source).group(1)
    assert sorted(re.findall(r"'([^']+)'", listed)) == sorted(tables)


@pytest.mark.parametrize(("tag", "language"), [("de-AT", "de"), ("pt-PT", "pt-BR"), ("pt", "pt-BR"),
                                               ("ar-EG", "ar"), ("ja_JP", "ja"), ("he", "en"), ("", "en")])
def test_a_locale_picks_its_languages_words(tag, language):
    assert language_for(tag) == language


def test_the_embed_page_carries_the_words_of_its_storys_language(app, live_server):
    tenant = make_tenant("Soundwave")
    send(live_server, tenant.write_key, [track("ana", "Song Played", ms("2026-03-02T12:00:00") + i * 90_000_000,
                                               {"song_id": "s", "song": "Song", "artist": "Mitski", "genre": "pop",
                                                "ms_played": 180_000, "device": "ios"}, locale="ar")
                                         for i in range(12)])
    token = viewer_token(live_server, tenant.secret_key, "ana")
    page = http("GET", f"{live_server.url}/embed/year-in-music?token={token}").body.decode()
    words = re.search(r'<script type="application/json" id="recap-strings">(.*?)</script>', page, re.S)
    assert words and json.loads(words.group(1))["language"] == "ar"
    english = http("GET", f"{live_server.url}/embed/year-in-music?token={token}&locale=en").body.decode()
    assert 'id="recap-strings"' not in english  # English is in player.js
