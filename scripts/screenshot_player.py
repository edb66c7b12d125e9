"""Screenshots of the story player at phone sizes (390×844, and 360×640 as ``*-360.png``) for the docs.

    python scripts/screenshot_player.py [OUTPUT_DIR]     (default: docs/images)

Builds a throwaway instance with one listener's year of plays, serves it on 127.0.0.1, opens
``/embed/year-in-music`` in Debian's Chromium and captures a few frames and the share sheet, and
saves the listener's share images (``card-story.png``, ``card-og.png``).
"""
from __future__ import annotations

import base64
import json
import logging
import random
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

from demo_app.screenshots import CHROMIUM, CHROMIUM_ARGS, output_folder
from demo_app.serving import WSGIInThread
from widget_server import create_app
from widget_server.auth import create_key
from widget_server.engine.experiments import assign
from widget_server.engine.templates import SHIPPED_DIR, load_file
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App

ARTISTS = [("Björk", "art pop", 9), ("Mitski", "indie rock", 7), ("Khruangbin", "psychedelic", 6),
           ("Rosalía", "flamenco pop", 5), ("Bon Iver", "folk", 4), ("Little Simz", "hip hop", 3),
           ("Caroline Polachek", "art pop", 3), ("Fred again..", "electronic", 2)]
# Shots: file name and the id of the frame to show.
SHOTS = [("player.png", "top-artists"), ("player-minutes.png", "minutes"),
         ("player-clock.png", "listening-clock"), ("player-card.png", "card")]


def post(url: str, body: dict, key: str) -> dict:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": auth})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


def listening_year(user: str, year: int) -> list[dict]:
    """About 900 plays over the year, heavier late at night (the "Night Owl")."""
    rng = random.Random(7)
    weights = [w for _, _, w in ARTISTS]
    events = []
    start = datetime(year, 1, 3, tzinfo=UTC)
    for day in range(300):
        for _ in range(rng.randint(1, 5)):
            artist, genre, _ = rng.choices(ARTISTS, weights)[0]
            hour = rng.choice([23, 23, 0, 0, 1, 22, 21, 8, 13, 18, 2])
            at = start + timedelta(days=day, hours=hour, minutes=rng.randint(0, 59))
            song = f"{artist} — track {rng.randint(1, 6)}"
            events.append({"type": "track", "event": "Song Played", "userId": user,
                           "timestamp": at.isoformat(), "context": {"timezone": "UTC"},
                           "properties": {"song_id": song, "song": song, "artist": artist, "genre": genre,
                                          "ms_played": rng.randint(120_000, 260_000), "device": "ios"}})
    events.append({"type": "identify", "userId": user, "traits": {"name": "Ana Lima", "plan": "premium"}})
    return events


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # request lines would show the token
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"INSTANCE_PATH": tmp, "TESTING": True})
        with database.connection_context():
            tenant = App.create(name="Soundwave", deep_link_scheme="soundwave",
                                share_base_url="https://soundwave.app")
            write_key = create_key(tenant, ApiKey.WRITE)
            secret_key = create_key(tenant, ApiKey.SECRET)
        server = WSGIInThread(app, name="screenshots").start()
        base = server.url
        try:
            post(base + "/v1/batch", {"batch": listening_year("ana", datetime.now(UTC).year)}, write_key)
            token = post(base + "/v1/viewer-tokens", {"user_id": "ana"}, secret_key)["token"]
            shoot(f"{base}/embed/year-in-music?token={token}", out_dir)
            save_cards(base, token, out_dir)
            post_engagement(base, secret_key)
            shoot_dashboard(f"{base}/dashboard/stories/year-in-music?days=14", secret_key, out_dir)
        finally:
            server.stop()


def save_cards(base: str, token: str, out_dir: Path) -> None:
    """The listener's share images as the server draws them: ``card-story.png``, ``card-og.png``."""
    request = urllib.request.Request(base + "/v1/shares", json.dumps({"template": "year-in-music"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        images = json.loads(reply.read())["images"]
    for kind in ("story", "og"):
        with urllib.request.urlopen(images[kind], timeout=60) as image:
            (out_dir / f"card-{kind}.png").write_bytes(image.read())


def post_engagement(base: str, secret_key: str) -> None:
    """Two weeks of viewers, each leaving somewhere along the story, as the player reports them, in
    the variant of the story's intro experiment each one sees (the second keeps viewers longer)."""
    rng = random.Random(11)
    frames = ["intro", "minutes", "top-artists", "top-songs", "listening-clock", "personality", "card"]
    experiment = load_file(SHIPPED_DIR / "year_in_music.toml").spec["experiment"]
    now = datetime.now(UTC)
    for n in range(240):
        user = f"listener-{n}"
        token = post(base + "/v1/viewer-tokens", {"user_id": user}, secret_key)["token"]
        at = (now - timedelta(days=min(13, int(rng.expovariate(0.25))), minutes=rng.randint(0, 600))).isoformat()
        variant = assign(experiment, "year-in-music", user)
        leaving = 0.22 if variant is experiment["variants"][0] else 0.12
        reached = min(len(frames), 1 + int(rng.expovariate(leaving)))
        props = {"template": "year-in-music", "experiment": experiment["id"], "variant": variant["id"]}
        events = [("story_viewed", props)]
        events += [("frame_viewed", {**props, "frame_id": f, "index": i, "dwell_ms": rng.randint(2000, 6000),
                                     "advance": "auto"}) for i, f in enumerate(frames[:reached])]
        if reached == len(frames):
            events.append(("story_completed", props))
            if rng.random() < 0.4:
                channel = rng.choice(["web_share_file", "clipboard", "host"])
                events.append(("story_shared", {**props, "channel": channel}))
        events.append(("story_closed", {**props, "progress": round(reached / len(frames), 3)}))
        batch = [{"type": "track", "event": name, "timestamp": at, "properties": p} for name, p in events]
        request = urllib.request.Request(
            base + "/v1/batch", json.dumps({"batch": batch}).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        urllib.request.urlopen(request, timeout=30).close()


def shoot_dashboard(url: str, secret_key: str, out_dir: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 900, "height": 900},
                                      http_credentials={"username": secret_key, "password": ""})
        page = context.new_page()
        page.goto(url)
        page.screenshot(path=str(out_dir / "player-dashboard.png"), full_page=True)
        browser.close()


PHONES = (((390, 844), ""), ((360, 640), "-360"))  # viewport, file name suffix


def shoot(url: str, out_dir: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for viewport, suffix in PHONES:
            context = browser.new_context(viewport=dict(zip(("width", "height"), viewport, strict=True)),
                                          device_scale_factor=2, is_mobile=True, has_touch=True)
            page = context.new_page()
            page.add_init_script("delete Navigator.prototype.share")  # the share sheet, as desktops see it
            page.goto(url)  # the same token opens the story again
            page.wait_for_selector(".recap-player[data-index='0']")
            page.evaluate("document.fonts.ready")
            for name, frame_id in SHOTS:
                ids = page.evaluate("RecapPlayer.state().frame_ids")
                if frame_id not in ids:
                    continue
                page.evaluate("i => RecapPlayer.go(i)", ids.index(frame_id))
                page.wait_for_timeout(2200)  # entrance animations and the count-up finish
                page.screenshot(path=str(out_dir / name.replace(".png", f"{suffix}.png")))
            page.click(".recap-frame:last-child .recap-btn")  # Share, on the card
            page.wait_for_selector(".recap-dialog")
            page.wait_for_timeout(500)
            page.screenshot(path=str(out_dir / f"player-share-sheet{suffix}.png"))
            context.close()
        desktop = browser.new_page(viewport={"width": 1280, "height": 800})
        desktop.goto(url)
        desktop.wait_for_selector(".recap-player[data-index='0']")
        desktop.wait_for_timeout(2200)
        desktop.screenshot(path=str(out_dir / "player-desktop.png"))
        browser.close()


if __name__ == "__main__":
    main(output_folder(__doc__))
