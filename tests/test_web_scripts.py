"""Text in every script on the web pages: the cards' Noto families served as WOFF2 slices
(widget_server/assets/noto.py), each code point in exactly one face, built on its first request
once per machine, and fetched by a page only for the characters its text has."""
from __future__ import annotations

import functools
import gzip
import io
import os
import re
import subprocess
import sys

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops

from helpers.player import mount_preview, preview_story
from helpers.server import http
from helpers.share import YEAR, plays, share
from helpers.story import identify, ms, send
from widget_server.assets import catalog, font_chain, fonts, noto

ARABIC = "ليلى الحسيني"
JAPANESE = "田中さくら"
NOTO_URL = re.compile(r"/fonts/noto-([a-z0-9-]+?)(-bold)?\.[0-9a-f]{16}\.woff2$")


def points(unicode_range: str) -> set[int]:
    return fonts.code_points(unicode_range.replace(" ", ""))


def emoji() -> frozenset[int]:
    return frozenset().union(*(font_chain.coverage(f) for f in font_chain.chain("Regular") if f.emoji))


# --- the slices -----------------------------------------------------------------------------------

def test_every_code_point_a_noto_file_is_first_for_is_in_exactly_one_of_its_slices():
    slices = noto.slices()
    seen = set(noto.manrope_points()) | emoji()
    for font in font_chain.chain("Regular")[1:]:
        expected = font_chain.coverage(font) - seen
        seen |= font_chain.coverage(font)
        mine = [s.points for s in slices if s.family == font.family]
        if font.emoji:
            assert mine == []   # left to the device's colour emoji
            continue
        assert set().union(*mine) == expected, font.family
        assert sum(len(p) for p in mine) == len(expected), f"{font.family}: a code point in two slices"
    assert {s.family for s in slices} == {f.family for f in font_chain.chain("Regular")[1:] if not f.emoji}


def test_no_face_is_declared_for_a_code_point_of_manrope_of_emoji_or_of_another_face():
    claimed = set(noto.manrope_points())
    for piece in noto.slices():
        declared = points(piece.unicode_range)
        assert piece.points <= declared, piece.name
        assert not declared & claimed, f"{piece.name} overlaps a face declared before it"
        assert not declared & emoji(), piece.name
        claimed |= declared
    assert len({s.name for s in noto.slices()}) == len(noto.slices())


def test_ideographs_and_hangul_are_cut_in_small_slices_and_the_page_rules_stay_small():
    cjk = [s for s in noto.slices() if s.family == "NotoSansCJK"]
    assert len(cjk) > 200 and max(len(s.points) for s in cjk if s.name != "kana") <= noto.PACK
    assert sum(len(s.points) for s in cjk) > 40_000
    kana = next(s for s in cjk if s.name == "kana")
    assert set(map(ord, "さくらカタカナ、。「」！")) <= kana.points
    # The rules every page carries: the CJK and symbol faces are in the stylesheet of more faces.
    page = noto.font_faces("Recap Manrope", lambda name: f"fonts/{name}", more=False)
    more = noto.font_faces("Recap Manrope", lambda name: f"fonts/{name}", more=True)
    assert "noto-cjk" not in page and "noto-symbols" not in page and "noto-arabic" in page
    assert "noto-kana" in more and "noto-arabic" not in more
    assert len(gzip.compress(page.encode(), 9)) < 1024


def test_the_stylesheets_declare_every_face_under_its_url_and_building_none():
    files = catalog.catalog()
    player, more = files.files["/widget/player.css"].body.decode(), files.files["/widget/more-faces.css"].body.decode()
    for path, cut in files.lazy.items():
        declared = more if cut.slice.more else player
        assert f"url({path.removeprefix('/widget/')})" in declared, cut.name
    share = files.inline["/s/_static/share.css"]
    assert 'font-family:"Manrope"' in share and "url(/widget/fonts/noto-arabic-600." in share


@pytest.mark.parametrize("name", ["hebrew", "kana", "cjk-7500"])
def test_a_built_slice_holds_exactly_its_code_points(name, tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "CACHE_DIR", tmp_path)
    piece = next(s for s in noto.slices() if s.name == name)
    for cut in (c for c in noto.cuts() if c.slice == piece):
        data = noto.woff2(cut)
        assert data.startswith(b"wOF2")
        assert set(TTFont(io.BytesIO(data)).getBestCmap()) == piece.points, cut.name


BUILD = ("import sys; from widget_server.assets import noto; data = noto.woff2(noto.by_name()[sys.argv[1]]); "
         "print('built' if 'fontTools.subset' in sys.modules else 'read', len(data))")


def test_a_slice_is_built_once_per_machine_even_when_two_processes_ask_at_once(tmp_path):
    env = {**os.environ, "RECAP_FONT_CACHE": str(tmp_path / "fonts")}
    # The stylesheets and their URLs come without building a Noto file.
    subprocess.run([sys.executable, "-c", "from widget_server.assets import catalog; catalog.catalog()"],
                   check=True, env=env)
    assert not [p for p in (tmp_path / "fonts").iterdir() if p.name.startswith("noto-")]
    both = [subprocess.Popen([sys.executable, "-c", BUILD, "noto-thai.woff2"], env=env, stdout=subprocess.PIPE,
                             text=True) for _ in range(2)]
    runs = sorted(p.communicate()[0].split() for p in both)
    assert [r[0] for r in runs] == ["built", "read"] and runs[0][1] == runs[1][1]
    cached = [p for p in (tmp_path / "fonts").iterdir() if re.fullmatch(r"noto-thai-[0-9a-f]{20}\.woff2", p.name)]
    assert len(cached) == 1
    cached[0].write_bytes(b"")   # damaged: built again
    again = subprocess.run([sys.executable, "-c", BUILD, "noto-thai.woff2"], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    assert again == ["built", runs[0][1]]


def test_a_noto_url_answers_a_woff2_for_a_year_usable_from_other_sites(live_server):
    css = http("GET", live_server.url + "/widget/player.css").body.decode()
    url = re.search(r"url\((fonts/noto-hebrew-bold\.[0-9a-f]{16}\.woff2)\)", css).group(1)
    reply = http("GET", live_server.url + "/widget/" + url)
    assert reply.status == 200 and reply.body.startswith(b"wOF2")
    assert reply.headers["Content-Type"] == "font/woff2"
    assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


# --- in the browser -------------------------------------------------------------------------------

@functools.cache
def declared() -> dict[str, set[int]]:
    return {s.name: points(s.unicode_range) for s in noto.slices()}


def needed(text: str) -> set[str]:
    """The slices whose faces a text's characters fall in."""
    return {name for name, chars in declared().items() if chars & set(map(ord, text))}


def story(title: str, locale: str, direction: str = "ltr") -> dict:
    shown = preview_story()
    shown.update(locale=locale, direction=direction)
    shown["frames"][0].update(title=title, subtitle="Let's rewind.")
    return shown


def show(phone, live_server, site, shown: dict) -> list[str]:
    """Mount ``shown`` and wait for its fonts; the Noto slices the page asked for."""
    asked: list[str] = []
    phone.on("request", lambda r: asked.append(r.url) if r.resource_type == "font" else None)
    mount_preview(phone, live_server, site, shown)
    phone.wait_for_function("getComputedStyle(document.querySelector('.recap-player')).opacity !== '0'")
    phone.wait_for_load_state("networkidle")
    phone.evaluate("document.fonts.ready.then(() => true)")
    return [m.group(1) for m in map(NOTO_URL.search, asked) if m]


def title_fonts(phone) -> list[dict]:
    cdp = phone.context.new_cdp_session(phone)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".recap-in .recap-title"})["nodeId"]
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def title_pixels(phone) -> Image.Image:
    return Image.open(io.BytesIO(phone.locator(".recap-in .recap-title").screenshot())).convert("RGB")


@pytest.mark.browser
@pytest.mark.parametrize(("title", "locale", "direction", "face"),
                         [(f"عامك يا {ARABIC}", "ar", "rtl", "NotoSansArabic"),
                          (f"{JAPANESE}さんの一年", "ja-JP", "ltr", "NotoSansCJK")])
def test_a_story_in_another_script_loads_exactly_the_slices_its_text_needs_and_draws_with_them(
        phone, live_server, site, title, locale, direction, face):
    shown = story(title, locale, direction)
    asked = show(phone, live_server, site, shown)
    text = phone.inner_text(".recap-player")
    assert title in text
    assert set(asked) == needed(text) and needed(title) <= set(asked), (asked, sorted(needed(text)))
    loaded = phone.evaluate("[...document.fonts].filter(f => f.family === 'Recap Manrope' && f.status === 'loaded')"
                            ".map(f => f.unicodeRange.replace(/ /g, '').toUpperCase())")
    wanted = {s.unicode_range.upper() for s in noto.slices() if s.name in needed(title)}
    assert wanted <= set(loaded)
    used = title_fonts(phone)
    assert any(f["isCustomFont"] and f["familyName"].replace(" ", "").startswith(face) for f in used), used
    drawn = title_pixels(phone)

    phone.route("**/fonts/noto-*", lambda route: route.abort())   # the same page without Noto's files
    phone.reload()
    show(phone, live_server, site, shown)
    assert not any(f["isCustomFont"] and f["familyName"].startswith("Noto") for f in title_fonts(phone))
    fallback = title_pixels(phone)
    assert drawn.size != fallback.size or ImageChops.difference(drawn, fallback).getbbox() is not None


@pytest.mark.browser
def test_an_english_story_asks_for_no_noto_file_nor_the_stylesheet_of_more_faces(phone, live_server, site):
    sheets: list[str] = []
    phone.on("request", lambda r: sheets.append(r.url) if r.resource_type == "stylesheet" else None)
    assert show(phone, live_server, site, story("Your 2026 in Music", "en")) == []
    assert not [u for u in sheets if "more-faces" in u]


# What was loaded when the story first came on screen (the player holds it transparent till then).
FIRST_SEEN = """
window.__first = null;
const tick = () => {
  const root = document.querySelector('.recap-root');
  if (window.__first === null && root && document.querySelector('.recap-frame.recap-in')
      && getComputedStyle(root).opacity !== '0') {
    window.__first = [...document.fonts].filter(f => f.status === 'loaded')
      .map(f => f.unicodeRange.replace(/ /g, '').toUpperCase());
  }
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);"""


@pytest.mark.browser
@pytest.mark.parametrize(("title", "locale", "direction"),
                         [(f"عامك يا {ARABIC}", "ar", "rtl"), (f"{JAPANESE}さんの一年", "ja-JP", "ltr")])
def test_a_first_frame_in_another_script_comes_on_screen_with_its_noto_faces(phone, live_server, site, title, locale,
                                                                            direction):
    wanted = needed(title)
    for path, cut in catalog.catalog().lazy.items():   # built before: the wait is for the network, not a build
        if cut.slice.name in wanted:
            assert http("GET", live_server.url + path).status == 200
    phone.add_init_script(FIRST_SEEN)
    mount_preview(phone, live_server, site, story(title, locale, direction))
    phone.wait_for_function("window.__first !== null")
    first = set(phone.evaluate("window.__first"))
    assert {s.unicode_range.upper() for s in noto.slices() if s.name in wanted} <= first


@pytest.mark.browser
def test_the_share_page_of_a_japanese_name_adds_the_more_faces_and_asks_for_its_slices(phone, live_server, soundwave):
    send(live_server, soundwave.write_key, [identify("sakura", {"name": JAPANESE}, ms(f"{YEAR}-01-02T00:00:00"))]
         + plays("sakura", 30))
    asked: list[str] = []
    phone.on("request", lambda r: asked.append(r.url) if r.resource_type in ("font", "stylesheet") else None)
    phone.goto(share(live_server, soundwave, user="sakura")["url"])
    phone.wait_for_load_state("networkidle")
    phone.evaluate("document.fonts.ready.then(() => true)")
    text = phone.inner_text("body")
    assert JAPANESE in text
    assert [u for u in asked if u.endswith("/s/_static/more-faces.css")]
    slices = {m.group(1) for m in map(NOTO_URL.search, asked) if m}
    assert needed(JAPANESE) <= slices == needed(text)


def test_a_page_inlines_the_noto_faces_of_its_own_texts_scripts_only():
    files = catalog.catalog()
    everything = files.inline["/widget/player.css"]
    english = files.inline_for("/widget/player.css", "Your 2026 in music, Zoë")
    arabic = files.inline_for("/widget/player.css", f"{ARABIC} 2026")
    assert "/fonts/noto-" in everything and "/fonts/noto-" not in english
    assert {m.group(1) for m in re.finditer(r"/fonts/noto-([a-z0-9-]+?)(?:-bold)?\.", arabic)} == needed(ARABIC)
    # the rest of the stylesheet is the same, byte for byte
    strip = functools.partial(re.sub, r"@font-face\{[^}]*/fonts/noto-[^}]*\}\n", "")
    assert strip(english) == strip(arabic) == strip(everything)
    assert len(gzip.compress(everything.encode())) - len(gzip.compress(english.encode())) > 400


def test_an_english_embed_page_carries_no_noto_face(soundwave, live_server):
    from helpers.share import USER
    from helpers.story import viewer_token

    token = viewer_token(live_server, soundwave.secret_key, USER)
    page = http("GET", f"{live_server.url}/embed/year-in-music?token={token}").body.decode()
    assert "Recap Manrope" in page and "/fonts/noto-" not in page
