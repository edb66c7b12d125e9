"""What the embed and share pages load: fingerprinted, compressed files, WOFF2 fonts with every
glyph the stories draw, a favicon, and a page light enough for a slow phone network."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import brotli
import pytest
from fontTools.ttLib import TTFont

from demo_app import catalog as demo_catalog
from demo_app import people
from helpers.player import player_page, preview_story, viewer_token
from helpers.server import http
from helpers.share import USER, share
from widget_server.assets import catalog, csp_hash
from widget_server.engine.templates import load_file
from widget_server.engine.translations import Translations, translated

STORY_TEMPLATES = Path(__file__).resolve().parents[1] / "story_templates"
URL = re.compile(r'(?:src|href)="(/[^"]+)"')
FINGERPRINTED = re.compile(r"\.([0-9a-f]{16})\.[a-z0-9]+$")
TYPOGRAPHY = "’‘“”…–—·•€£¥№"  # the player's and the share page's own texts, and what captions use
EMBED_BUDGET = 80_000  # bytes the embed page may transfer, headers included (240 KB with the TTF)


def page_urls(server, path: str) -> list[str]:
    return URL.findall(http("GET", server.url + path).body.decode())


def embed_path(server, tenant, template: str = "player-test", user: str = "ana") -> str:
    return f"/embed/{template}?token={viewer_token(server, tenant, user)}"


def strings(value) -> list[str]:
    """Every string in a nest of tuples, lists and dicts (keys too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return strings(list(value.items()))
    if isinstance(value, tuple | list):
        return [s for v in value for s in strings(v)]
    return []


def demo_text() -> str:
    """Every piece of text the demo apps and the shipped templates put in a story: the demo's
    artists, songs, genres, playlists, courses, badges and people, and the templates' own words
    in their default locale (their translations into scripts Manrope lacks, Japanese and Arabic,
    are drawn in the browser's fonts: docs/SHARING.md)."""
    words = [s for module in (demo_catalog, people) for name, value in vars(module).items()
             if name.lstrip("_").isupper() for s in strings(value)]
    for path in STORY_TEMPLATES.glob("*.toml"):
        spec = load_file(path).spec
        words += strings(in_default_locale(spec, spec["default_locale"]))
    return " ".join(words + [TYPOGRAPHY])


def in_default_locale(node, default: str):
    """A template's spec with each table of translations replaced by its default locale's text."""
    if isinstance(node, Translations):
        return translated(node, default, default)
    if isinstance(node, dict):
        return {key: in_default_locale(value, default) for key, value in node.items()}
    if isinstance(node, list):
        return [in_default_locale(value, default) for value in node]
    return node


# --- fingerprinted URLs ---------------------------------------------------------------------------

def test_pages_name_their_files_by_content_hash_cached_for_a_year(live_server, soundwave):
    embed = page_urls(live_server, embed_path(live_server, soundwave, "year-in-music", USER))
    shared = page_urls(live_server, share(live_server, soundwave)["url"].split(live_server.url)[-1])
    assert {u.rsplit("/", 1)[-1].split(".")[0] for u in embed} == {"manrope-latin"}   # the rest is inline
    assert {u.rsplit("/", 1)[-1].split(".")[0] for u in shared} >= {"share", "manrope-latin"}
    fonts = {u for u in embed + shared if "/fonts/" in u}
    assert len(fonts) == 1, "the player and the share page load the same font file (one cache)"
    for url in {u for u in embed + shared if not u.startswith("/s/") or u.startswith("/s/_static/")}:
        reply = http("GET", live_server.url + url)
        assert reply.status == 200, url
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        digest = FINGERPRINTED.search(url)
        assert digest and digest.group(1) == hashlib.sha256(reply.body).hexdigest()[:16], url


def test_a_changed_file_gets_a_new_url_and_the_old_one_is_gone(live_server, soundwave, tmp_path, monkeypatch):
    page = share(live_server, soundwave)["url"].split(live_server.url)[-1]
    before = [u for u in page_urls(live_server, page) if "/share." in u and u.endswith(".js")]
    changed = tmp_path / "share.js"
    changed.write_bytes(catalog.SOURCES["/s/_static/share.js"].read_bytes() + b"\n// a new release\n")
    monkeypatch.setitem(catalog.SOURCES, "/s/_static/share.js", changed)   # a new build deployed
    after = [u for u in page_urls(live_server, page) if "/share." in u and u.endswith(".js")]
    assert before and after and before != after
    assert http("GET", live_server.url + after[0]).body == changed.read_bytes()
    assert http("GET", live_server.url + before[0]).status == 404


def test_a_new_build_of_the_player_is_in_the_next_embed_page_and_allowed_by_its_csp(live_server, music, tmp_path,
                                                                                 monkeypatch):
    changed = tmp_path / "player.js"
    changed.write_text(catalog.SOURCES["/widget/player.js"].read_text() + "\n// a new release\n")
    monkeypatch.setitem(catalog.SOURCES, "/widget/player.js", changed)
    reply = http("GET", live_server.url + embed_path(live_server, music))
    assert "// a new release" in reply.body.decode()
    script = re.search(r"<script>(.*?)</script>", reply.body.decode(), re.S).group(1)
    assert csp_hash(script) in reply.headers["Content-Security-Policy"]


def test_every_server_process_names_the_files_alike(tmp_path):
    # Machines (or users) with caches of their own each build the files: a page from one server
    # names fonts another must serve.
    script = "from widget_server.assets import catalog; print(sorted(catalog.catalog().by_fingerprint))"
    processes = []
    for n in range(2):  # side by side, the second started a second later: a font's timestamp has whole seconds
        env = {**os.environ, "RECAP_FONT_CACHE": str(tmp_path / f"cache-{n}")}
        processes.append(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env))
        time.sleep(1.1)
    runs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    assert runs[0] == runs[1] and "manrope-latin." in runs[0]


def test_the_fonts_are_built_once_then_read_by_every_process_and_a_damaged_one_is_built_again(tmp_path):
    """The first process builds the fonts into the cache; the next reads them without loading
    fontTools' subsetter (seconds before a worker's first page, once per process before)."""
    script = ("import sys; from widget_server.assets import fonts; files = fonts.font_files(); "
              "print('built' if 'fontTools.subset' in sys.modules else 'read', "
              "sorted((f.name, len(f.woff2)) for f in files))")
    env = {**os.environ, "RECAP_FONT_CACHE": str(tmp_path / "fonts")}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env=env).stdout.split(" ", 1) for _ in range(2)]
    assert [runs[0][0], runs[1][0]] == ["built", "read"] and runs[0][1] == runs[1][1]
    cached = [p for p in (tmp_path / "fonts").iterdir() if re.fullmatch(r"manrope-latin-[0-9a-f]{20}\.woff2", p.name)]
    assert len(cached) == 1 and cached[0].read_bytes().startswith(b"wOF2")
    cached[0].write_bytes(b"")  # damaged (a disk that filled, a hand that slipped)
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env=env).stdout.split(" ", 1)
    assert again == ["built", runs[0][1]] and cached[0].read_bytes().startswith(b"wOF2")


@pytest.mark.parametrize("path", ["/widget/player.js", "/widget/player.css", "/widget/embed.js",
                                  "/s/_static/share.css", "/s/_static/share.js"])
def test_plain_urls_keep_answering_briefly_cached_with_an_etag(live_server, path):
    reply = http("GET", live_server.url + path)
    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "public, max-age=300"
    again = http("GET", live_server.url + path, headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304 and again.body == b""


@pytest.mark.parametrize("path", ["/widget/player.js", "/widget/player.css", "/widget/embed.js",
                                  "/s/_static/share.css", "/s/_static/share.js"])
def test_gzip_and_brotli_answers_decode_to_the_same_bytes(live_server, path):
    plain = http("GET", live_server.url + path)
    assert "Content-Encoding" not in plain.headers
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        for url in (path, catalog.catalog().url(path)):
            reply = http("GET", live_server.url + url, headers={"Accept-Encoding": f"{encoding}, identity;q=0.5"})
            assert reply.headers["Content-Encoding"] == encoding
            assert reply.headers["Vary"] == "Accept-Encoding"
            assert len(reply.body) < len(plain.body)
            assert decode(reply.body) == plain.body
            assert reply.headers["ETag"] != plain.headers["ETag"]   # a different byte sequence
    assert http("GET", live_server.url + path, headers={"Accept-Encoding": "br;q=0, gzip"}).headers[
        "Content-Encoding"] == "gzip"


def test_the_player_stylesheet_and_fonts_stay_usable_from_other_sites(live_server):
    css = http("GET", live_server.url + "/widget/player.css").body.decode()
    font_urls = re.findall(r'url\("(fonts/manrope-[a-z-]+\.[0-9a-f]{16}\.woff2)"\)', css)
    assert font_urls, "relative URLs: they resolve to this server from a host's page"
    reply = http("GET", live_server.url + "/widget/" + font_urls[0])
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert reply.headers["Content-Type"] == "font/woff2"


# --- fonts ----------------------------------------------------------------------------------------

def test_fonts_are_woff2_subsets_that_hold_every_character_of_the_demo_stories(live_server):
    css = http("GET", live_server.url + "/widget/player.css").body.decode()
    faces = re.findall(r'url\("(fonts/[^"]+)"\) format\("woff2"\); unicode-range: ([^;]+);', css)
    assert faces[0][0].startswith("fonts/manrope-latin.")   # Latin first
    covered: set[int] = set()
    for url, ranges in faces:
        body = http("GET", live_server.url + "/widget/" + url).body
        assert body[:4] == b"wOF2"
        assert len(body) < 30_000, url   # the whole TTF was 165 KB
        font = TTFont(io.BytesIO(body))
        assert "wght" in [a.axisTag for a in font["fvar"].axes]   # every weight the pages use
        listed = set()
        for part in ranges.split(","):
            first, _, last = part.strip().removeprefix("U+").partition("-")
            listed.update(range(int(first, 16), int(last or first, 16) + 1))
        covered |= set(font.getBestCmap()) & listed
    missing = sorted({c for c in demo_text() if ord(c) not in covered and not c.isspace()})
    assert missing == []


@pytest.mark.browser
def test_every_character_of_the_demo_stories_renders_in_manrope(phone, live_server, site):
    text = sorted(set(demo_text()) - set(" \n\t"))
    story = preview_story()
    for frame, chunk in zip(story["frames"], [text[i::3] for i in range(3)], strict=False):
        frame["title"], frame["subtitle"] = "".join(chunk[: len(chunk) // 2]), "".join(chunk[len(chunk) // 2:])
    fonts = []
    phone.on("response", lambda r: fonts.append(r) if r.request.resource_type == "font" else None)
    phone.goto(site.page("/", player_page(live_server)))   # another site: fonts over CORS
    phone.evaluate("s => { window.player = Recap.story('#mount', {story: s}); player.pause(); }", story)
    cdp = phone.context.new_cdp_session(phone)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    for index in range(3):
        phone.evaluate("i => player.go(i)", index)
        phone.wait_for_selector(f".recap-player[data-index='{index}'] .recap-frame.recap-in")
        phone.wait_for_function("document.querySelectorAll('.recap-frame').length === 1")  # the one left
        phone.evaluate("document.fonts.ready.then(() => true)")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        for selector in (".recap-in .recap-title", ".recap-in .recap-subtitle"):
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
            used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            manrope = [f["postScriptName"].startswith("Manrope") and f["isCustomFont"] for f in used]
            assert manrope and all(manrope), (selector, used)
    assert fonts and all(r.headers["content-type"] == "font/woff2" for r in fonts)   # the subsets, not the TTF


# --- the pages ------------------------------------------------------------------------------------

def test_favicon_answers_on_the_pages_origin(live_server):
    reply = http("GET", live_server.url + "/favicon.ico")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/x-icon"
    assert reply.headers["Cache-Control"] == "public, max-age=86400"
    assert reply.body[:4] == b"\x00\x00\x01\x00"   # an ICO


def _load(page, url: str, latency: int = 0, kbps: int = 0) -> dict:
    """Open ``url`` on an emulated network; what it transferred, its failed answers, its CSP
    violations, and when the story's first frame and the first Manrope face came."""
    page.add_init_script("""
      window.__seen = {violations: [], frame: null, font: null};
      document.addEventListener('securitypolicyviolation', e => __seen.violations.push(e.violatedDirective));
      const tick = () => {
        const now = performance.now();
        const frame = document.querySelector('.recap-frame.recap-in');   // and on screen (not held transparent)
        if (__seen.frame === null && frame && getComputedStyle(frame.closest('.recap-root')).opacity !== '0') {
          __seen.frame = now;
        }
        if (__seen.font === null && [...document.fonts].some(f => f.family.includes('Manrope')
            && !f.family.includes('Fallback') && f.status === 'loaded')) __seen.font = now;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);""")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    if latency:
        rate = kbps * 1000 / 8
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency,
                                                      "downloadThroughput": rate, "uploadThroughput": rate})
    sizes: dict[str, float] = {}
    failed: list[str] = []
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1500 + 3 * latency)   # the favicon, a font for another script
    seen = page.evaluate("window.__seen")
    return {"bytes": sum(sizes.values()), "failed": failed, **seen}


@pytest.mark.browser
def test_the_embed_page_is_light_complete_and_within_its_csp(phone, live_server, music):
    loaded = _load(phone, live_server.url + embed_path(live_server, music))
    assert loaded["frame"] is not None
    assert loaded["failed"] == []          # no 4xx or 5xx for anything the page asked for
    assert loaded["violations"] == []      # the inline stylesheet is allowed by its hash, nothing else
    assert phone.evaluate("getComputedStyle(document.querySelector('.recap-player')).position") == "relative"
    assert loaded["bytes"] <= EMBED_BUDGET, f"the embed page moved {loaded['bytes']:,.0f} bytes"


@pytest.mark.browser
def test_on_a_slow_network_the_first_frame_is_drawn_in_its_own_font(phone, live_server, music):
    # 400 ms and 400 kbps: the TTF came at 5.8 s, long after the first frame, which then reflowed.
    loaded = _load(phone, live_server.url + embed_path(live_server, music), latency=400, kbps=400)
    assert loaded["font"] is not None and loaded["frame"] is not None
    assert loaded["font"] <= loaded["frame"], loaded


@pytest.mark.browser
def test_without_its_font_the_story_is_still_shown_in_the_fallback(phone, live_server, music):
    phone.route("**/*.woff2", lambda route: route.abort())
    loaded = _load(phone, live_server.url + embed_path(live_server, music))
    assert loaded["frame"] is not None and loaded["font"] is None
    assert phone.evaluate("getComputedStyle(document.querySelector('.recap-in .recap-title')).fontFamily").startswith(
        '"Recap Manrope"')


@pytest.mark.browser
def test_the_share_page_is_complete_and_within_its_csp_with_the_players_font(phone, live_server, soundwave):
    fonts = []
    phone.on("request", lambda r: fonts.append(r.url) if r.resource_type == "font" else None)
    loaded = _load(phone, share(live_server, soundwave)["url"])
    assert loaded["failed"] == [] and loaded["violations"] == []
    # The player's files: ASCII, and the rest of Latin-1 for the ö of the fixture's Björk.
    assert [u.split("/")[-1].split(".")[0] for u in fonts] == ["manrope-latin", "manrope-latin-supplement"]
    assert loaded["font"] is not None
    assert phone.evaluate("getComputedStyle(document.querySelector('h1')).fontWeight") == "800"
