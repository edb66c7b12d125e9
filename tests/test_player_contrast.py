"""Every text of both demo stories reaches WCAG AA on the pixels Chromium draws behind it.

axe cannot measure text over a gradient; this test can: for real demo users (the generator's
events, the real server's stories) each frame is shown in the player at 390×844, its texts are
made transparent, the screen is photographed, and each text's colour (with the opacity it is drawn
with) is measured against every pixel behind its glyph boxes. Its size and weight decide the bar:
4.5:1, or 3:1 for large text (``engine/contrast.py``, the same rule ``recap templates check`` uses).
"""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from helpers.demo import served_demo
from helpers.player import player_page
from helpers.server import basic, http
from widget_server.engine.contrast import over, ratio, required

USERS, SEED, SAMPLE = 4, 7, 3

TEXTS = """() => {
  const frame = document.querySelector('.recap-frame.recap-in');
  const out = [];
  for (const root of [frame, document.querySelector('.recap-top')]) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || el.closest('[hidden]')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const rects = [...range.getClientRects()].filter((r) => r.width > 2 && r.height > 2)
        .map((r) => [r.left, r.top, r.right, r.bottom]);
      if (!rects.length) continue;
      const style = getComputedStyle(el);
      const svg = el instanceof SVGElement;
      let alpha = 1;
      for (let e = el; e; e = e.parentElement) alpha *= parseFloat(getComputedStyle(e).opacity);
      out.push({text: node.textContent.trim().slice(0, 40), role: el.getAttribute('class') || el.tagName,
                color: svg ? style.fill : style.color, alpha, weight: parseInt(style.fontWeight, 10),
                size: parseFloat(style.fontSize) * (svg ? el.ownerSVGElement.getScreenCTM().a : 1), rects});
    }
  }
  return out;
}"""

SETTLED = """() => document.getAnimations().every((a) => a.playState !== 'running') && (() => {
  for (let e = document.querySelector('.recap-frame.recap-in'); e; e = e.parentElement) {
    if (getComputedStyle(e).opacity !== '1') return false;
  }
  return true;
})()"""

# Texts drawn transparent, everything else as it was: what is left is what the text sits on.
HIDE_TEXT = ("*{color:transparent!important;-webkit-text-fill-color:transparent!important;"
             "text-shadow:none!important} .recap-chart-label{fill:transparent!important}")


@pytest.fixture(scope="module")
def demo_stories(tmp_path_factory):
    """The stories of the first demo users of each app, as the server answers them."""
    instance = tmp_path_factory.mktemp("demo")
    with served_demo(instance, USERS, SEED) as (server, apps, _):
        stories = []
        for app in apps.values():
            for n in range(SAMPLE):
                user = f"{app.prefix}-{n:04d}"
                reply = http("GET", f"{server.url}/v1/stories/{app.template}?user_id={user}",
                             headers=basic(app.secret_key))
                if reply.status == 200:
                    stories.append((user, reply.json()))
        assert len(stories) >= 4, "too few demo users are eligible for a story"
        yield server, stories


def _rgba(css: str) -> tuple[tuple[float, float, float], float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return (parts[0], parts[1], parts[2]), (parts[3] if len(parts) > 3 else 1.0)


def _worst(shot: Image.Image, text: dict) -> float:
    """The lowest contrast of the text, as drawn, over the pixels behind its glyph boxes."""
    color, alpha = _rgba(text["color"])
    alpha *= text["alpha"]
    shades: set[tuple[int, int, int]] = set()
    for left, top, right, bottom in text["rects"]:
        box = (max(0, round(left) + 1), max(0, round(top) + 1),
               min(shot.width, round(right) - 1), min(shot.height, round(bottom) - 1))
        if box[2] > box[0] and box[3] > box[1]:
            shades |= {px[:3] for px in shot.crop(box).get_flattened_data()}
    return min(ratio(over(color, alpha, shade), shade) for shade in shades)


@pytest.mark.browser
def test_every_text_of_the_demo_stories_reaches_aa_on_the_rendered_pixels(browser, site, demo_stories):
    server, stories = demo_stories
    context = browser.new_context(viewport={"width": 390, "height": 844}, reduced_motion="reduce")
    page = context.new_page()
    failures, measured = [], 0
    try:
        for user, story in stories:
            page.goto(site.page(f"/{user}", player_page(server)))
            page.evaluate("([s, host]) => { window.player = Recap.story('#mount', {story: s, host}); }",
                          [story, server.url])
            page.wait_for_selector(".recap-player[data-index='0']")
            page.wait_for_function("document.querySelector('link[data-recap-player]').sheet")
            page.evaluate("window.player.pause()")
            for index, frame in enumerate(story["frames"]):
                page.evaluate("i => window.player.go(i)", index)
                page.wait_for_selector(f".recap-frame.recap-in[data-frame-id='{frame['id']}']")
                page.wait_for_function("document.querySelectorAll('.recap-frame').length === 1 && "
                                       "[...document.images].every((i) => i.complete)")
                # The frame's entrance done (1 ms under reduced motion, but a busy machine can
                # paint it late) and nothing holding the story transparent: measured as seen.
                page.wait_for_function(SETTLED)
                texts = page.evaluate(TEXTS)
                hide = page.add_style_tag(content=HIDE_TEXT)
                page.wait_for_function("getComputedStyle(document.querySelector('.recap-brand')).color"
                                       " === 'rgba(0, 0, 0, 0)'")
                page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
                shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
                hide.evaluate("node => node.remove()")
                for text in texts:
                    measured += 1
                    value, need = _worst(shot, text), required(text["size"], text["weight"])
                    if value < need:
                        failures.append(f"{user} {frame['id']}: {text['role']} {text['text']!r} "
                                        f"{value:.2f}:1 < {need:g}:1")
    finally:
        page.close()
        context.close()
    assert measured > 150
    assert failures == [], json.dumps(failures, indent=1, ensure_ascii=False)
