"""Screenshots of stories in other languages and scripts for the docs (docs/images/):

    python scripts/screenshot_languages.py [OUTPUT_DIR]     (default: docs/images)

``player-ar.png`` and ``player-ja.png``: the music story of a listener whose phone is in Arabic
(right to left) and of one in Japanese with a Japanese name, opened at ``/embed/year-in-music`` in
Debian's Chromium at phone size. ``card-<script>.png``: the share card of listeners named in
Arabic, Japanese, Devanagari and Korean, drawn by the server as a share draws it.
``share-ar.png``: the Arabic listener's share page (its words, right to left) at phone size.
"""
from __future__ import annotations

import json
import logging
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image
from playwright.sync_api import sync_playwright
from screenshot_player import listening_year, post

from demo_app.screenshots import CHROMIUM, CHROMIUM_ARGS, output_folder
from demo_app.serving import WSGIInThread
from widget_server import create_app
from widget_server.auth import create_key
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App

# user id → (their phone's locale, their name), and the file names of their shots
LISTENERS = {"layla": ("ar-EG", "ليلى حسن"), "sakura": ("ja-JP", "さくら 山田"),
             "priya": ("hi-IN", "प्रिया शर्मा"), "jimin": ("ko-KR", "지민 박")}
PLAYER_SHOTS = {"layla": "player-ar.png", "sakura": "player-ja.png"}
SHARE_PAGE_SHOTS = {"layla": "share-ar.png"}
CARD_SHOTS = {"layla": "card-arabic.png", "sakura": "card-japanese.png", "priya": "card-devanagari.png",
              "jimin": "card-korean.png"}


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines would show the token
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"INSTANCE_PATH": tmp, "TESTING": True})
        with database.connection_context():
            tenant = App.create(name="Soundwave", deep_link_scheme="soundwave", share_base_url="https://soundwave.app")
            write_key, secret_key = create_key(tenant, ApiKey.WRITE), create_key(tenant, ApiKey.SECRET)
        server = WSGIInThread(app, name="screenshots").start()
        try:
            for user, (locale, name) in LISTENERS.items():
                events = listening_year(user, datetime.now(UTC).year)
                for event in events:
                    event.setdefault("context", {})["locale"] = locale
                events[-1]["traits"] = {"name": name}
                post(server.url + "/v1/batch", {"batch": events}, write_key)
            tokens = {user: post(server.url + "/v1/viewer-tokens", {"user_id": user}, secret_key)["token"]
                      for user in LISTENERS}
            shares = {user: post_bearer(server.url + "/v1/shares", {"template": "year-in-music"}, tokens[user])
                      for user in LISTENERS}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                              is_mobile=True, has_touch=True)
                page = context.new_page()
                for user, file in PLAYER_SHOTS.items():
                    page.goto(f"{server.url}/embed/year-in-music?token={tokens[user]}")
                    page.wait_for_selector(".recap-player[data-index='0']")
                    ids = page.evaluate("RecapPlayer.state().frame_ids")
                    page.evaluate("i => RecapPlayer.go(i)", ids.index("minutes"))
                    page.evaluate("RecapPlayer.pause()")
                    page.wait_for_timeout(2200)  # entrance animations and the count-up finish
                    page.screenshot(path=str(out_dir / file))
                for user, file in SHARE_PAGE_SHOTS.items():
                    page.goto(server.url + urlsplit(shares[user]["url"]).path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out_dir / file), full_page=True)
                    shot = Image.open(out_dir / file).convert("RGB")  # (tall: 256 colours, a quarter of the bytes)
                    shot.quantize(256, method=Image.Quantize.MEDIANCUT).save(out_dir / file, optimize=True)
                browser.close()
            for user, file in CARD_SHOTS.items():
                (out_dir / file).write_bytes(fetch(shares[user]["images"]["story"]))
        finally:
            server.stop()


def post_bearer(url: str, body: dict, token: str) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as reply:
        return reply.read()


if __name__ == "__main__":
    main(output_folder(__doc__))
