"""Share card benchmark: first render and cached fetch of story.png, og.png and sticker.png, server time.

Run: ``python bench/card_bench.py [--shares 40]``. It makes a temporary instance, feeds a music
app's events through ``/v1/batch``, creates shares through ``POST /v1/shares`` (every fourth with
a caption and an uploaded photo), then requests each image through the app in-process (Flask's
test client: the whole request path, no network):

* first render: the first GET of each share's image (compose with Pillow + PNG encode + write
  to the cache + send);
* cached: later GETs of the same image (file served from the cache), and a revalidation with
  ``If-None-Match`` (304);
* by script: story cards of listeners named in Latin, Arabic (in Arabic, laid out right to left),
  Chinese, Japanese, Korean and Devanagari, each card five new names (no glyph mask of them kept
  yet) after the fonts were read once: drawing alone, and with the PNG encoded.

Medians over the shares; the "render only" column is the Server-Timing the route reports for
drawing and encoding alone. The very first card of a theme in a process also builds that theme's
background (cached afterwards); it is reported separately and left out of the medians.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

from PIL import Image
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Response

from widget_server import create_app
from widget_server.auth import create_key
from widget_server.store.db import database
from widget_server.store.models import ApiKey, App

ARTISTS = ["Björk", "Caribou", "Rosalía", "Four Tet", "Radiohead", "Mitski", "Floating Points", "Kelela"]


def _events(user: str, index: int) -> list[dict]:
    year = datetime.now(UTC).year
    start = int(datetime(year, 2, 1, 12, tzinfo=UTC).timestamp() * 1000)
    out = [{"type": "identify", "userId": user, "traits": {"name": f"Listener {index}"},
            "timestamp": datetime.fromtimestamp(start / 1000, UTC).isoformat()}]
    for i in range(60 + index % 40):
        artist = ARTISTS[(i * (index + 3)) % len(ARTISTS)]
        at = datetime.fromtimestamp((start + i * 3_600_000 * 30) / 1000, UTC).isoformat()
        out.append({"type": "track", "event": "Song Played", "userId": user, "messageId": uuid.uuid4().hex,
                    "timestamp": at, "context": {"timezone": "Europe/Berlin"},
                    "properties": {"song_id": f"s{i % 9}", "song": f"Song {i % 9}", "artist": artist,
                                   "genre": "art pop" if i % 2 else "electronic", "ms_played": 200_000,
                                   "device": "ios"}})
    return out


def _photo() -> bytes:
    import io
    image = Image.linear_gradient("L").resize((900, 900)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _timed(app, url: str, headers: dict | None = None) -> tuple[float, Response]:
    """One GET through the WSGI app: from the environ arriving to the last body byte produced."""
    environ = EnvironBuilder(path=url, headers=headers or {}).get_environ()
    started = time.perf_counter()
    body, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    data = b"".join(body)
    took = (time.perf_counter() - started) * 1000
    return took, Response(data, status=status, headers=response_headers)


def _render_ms(response) -> float | None:
    for part in response.headers.getlist("Server-Timing"):
        for item in part.split(","):
            if item.strip().startswith("render;dur="):
                return float(item.strip().split("=")[1])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=40, help="shares to create and render")
    parser.add_argument("--repeats", type=int, default=20, help="cached fetches per image")
    parser.add_argument("--script-cards", type=int, default=15, help="cards drawn per script")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "PUBLIC_BASE_URL": "https://recap.example"})
        client = app.test_client()
        with database.connection_context():
            tenant = App.create(name="Soundwave", deep_link_scheme="soundwave", share_base_url="https://soundwave.app")
            write, secret = create_key(tenant, ApiKey.WRITE), create_key(tenant, ApiKey.SECRET)
        users = [f"user-{i}" for i in range(args.shares)]
        batch = [event for i, user in enumerate(users) for event in _events(user, i)]
        for start in range(0, len(batch), 500):
            reply = client.post("/v1/batch", json={"batch": batch[start:start + 500]},
                                headers={"Authorization": f"Bearer {write}"})
            assert reply.status_code == 200, reply.get_json()

        photo = _photo()
        shares = []
        for i, user in enumerate(users):
            token = client.post("/v1/viewer-tokens", json={"user_id": user},
                                headers={"Authorization": f"Bearer {secret}"}).get_json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            body: dict = {"template": "year-in-music"}
            if i % 4 == 0:
                upload = client.post("/v1/uploads", data=photo, headers={**auth, "Content-Type": "image/jpeg"})
                body.update(caption="that song on the night bus home", upload_id=upload.get_json()["id"])
            reply = client.post("/v1/shares", json=body, headers=auth)
            assert reply.status_code == 201, reply.get_json()
            shares.append(reply.get_json())

        rows = []
        for kind in ("story", "og", "sticker"):  # the sticker after its story: cut out of its file
            paths = [s["images"][kind].replace("https://recap.example", "") for s in shares]
            cold_ms, cold = _timed(app, paths[0])
            assert cold.status_code == 200, cold.get_data()
            firsts, renders, sizes = [], [], []
            for path in paths[1:]:
                took, response = _timed(app, path)
                assert response.status_code == 200
                firsts.append(took)
                renders.append(_render_ms(response) or 0.0)
                sizes.append(len(response.get_data()))
            cached, revalidated = [], []
            for path in paths[1:]:
                for _ in range(args.repeats // 2):
                    took, response = _timed(app, path)
                    assert response.status_code == 200 and _render_ms(response) is None
                    cached.append(took)
                    took, response = _timed(app, path, {"If-None-Match": response.headers["ETag"]})
                    assert response.status_code == 304
                    revalidated.append(took)
            rows.append((f"{kind}.png", statistics.median(firsts), statistics.median(renders),
                         statistics.median(cached), statistics.median(revalidated),
                         statistics.median(sizes) / 1024, cold_ms, _render_ms(cold) or 0.0))

    print(f"share card images: {len(shares) - 1} shares each (medians, ms, server time in-process)\n")
    header = ("image", "first render", "render only", "cached 200", "cached 304", "size KB",
              "cold process", "(render)")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name, first, render, cached_ms, reval, size, cold_ms, cold_render in rows:
        print(f"| {name} | {first:.1f} | {render:.1f} | {cached_ms:.2f} | {reval:.2f} | {size:.0f} | "
              f"{cold_ms:.1f} | {cold_render:.1f} |")
    print("\ncold process: the first card in a fresh process (fonts load, the theme's background is drawn);"
          "\nnot included in the medians.\n")
    _scripts(args.script_cards)
    _encodings()
    print(json.dumps({"targets": {"story first render": "<= 40 ms", "cached": "<= 2 ms"}}))


# The letters each script's names are made of (five new names per card, so no glyph mask is reused
# from an earlier card), a label in the script, and the story's locale and direction.
SCRIPTS = {
    "Latin": ("ABCDEFGHIJKLMNOPRSTUVWZabcdeéfghijklmnoöprstuvwz", "Minutes listened", "en", "ltr"),
    "Arabic": ("ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "دقائق الاستماع", "ar", "rtl"),
    "Chinese": ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎",
                "收听分钟", "zh", "ltr"),
    "Japanese": ("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん",
                 "再生時間", "ja", "ltr"),
    "Korean": ("가나다라마바사아자차카타파하김이박최정강조윤장임한오서신권황안송류홍", "감상 시간", "ko", "ltr"),
    "Devanagari": ("कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह", "सुनने के मिनट", "hi", "ltr"),
}


def _name(rng, letters: str) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(3, 6)))


def _script_card(rng, script: str):
    from widget_server.share.cards import CardContent
    from widget_server.share.words import words

    letters, label, locale, direction = SCRIPTS[script]
    return CardContent(title=f"{_name(rng, letters)} 2026", subtitle=_name(rng, letters), stats=[(label, "2,963")],
                       list_title=label, items=[_name(rng, letters) for _ in range(3)], footer="soundwave.app",
                       app_name="Soundwave", period="2026", words=words(locale), direction=direction)


def _scripts(cards: int) -> None:
    """Story cards by script of the names on them: draw, and draw + encode, p50 and p95 in ms."""
    import random

    from widget_server.share import qr
    from widget_server.share.cards import encode_png, render_story

    code = qr.matrix("https://soundwave.app/s/abcdefghijklmnop")
    rng = random.Random(7)
    rows = []
    for script in SCRIPTS:
        render_story(_script_card(rng, script), code)  # (the script's fonts read once)
        drawn, encoded = [], []
        for _ in range(cards):
            content = _script_card(rng, script)
            started = time.perf_counter()
            image = render_story(content, code)
            drawn.append((time.perf_counter() - started) * 1000)
            encode_png(image)
            encoded.append((time.perf_counter() - started) * 1000)
        rows.append((script, drawn, encoded))
    print(f"story card by the script of its names: {cards} cards each, five new names a card (ms)\n")
    print("| script | draw p50 | draw p95 | draw + PNG p50 | draw + PNG p95 |")
    print("|---|---|---|---|---|")
    for script, drawn, encoded in rows:
        q_drawn, q_encoded = statistics.quantiles(drawn, n=20), statistics.quantiles(encoded, n=20)
        print(f"| {script} | {statistics.median(drawn):.1f} | {q_drawn[18]:.1f} | {statistics.median(encoded):.1f} | "
              f"{q_encoded[18]:.1f} |")
    print()


def _encodings(repeats: int = 15) -> None:
    """Why the cards are palette PNGs: encoders compared on one drawn story card."""
    import io
    import zlib

    from widget_server.share import qr
    from widget_server.share.cards import CardContent, encode_png, render_story

    card = {"title": "Maya's 2026 Wrapped", "stats": [{"label": "Minutes listened", "value": "14,320"}],
            "list": {"title": "Top artists", "items": ARTISTS[:5]}, "footer": "soundwave.app",
            "theme": {"background": "#121212", "foreground": "#ffffff", "accent": "#1ed760"}}
    drawn = render_story(CardContent.from_card(card, app_name="Soundwave", period="2026"),
                         qr.matrix("https://recap.example/s/AbCdEfGhIjKlMnOpQrStUv.abcdefghijklmnopqrstuvwxyz0"))

    def rgb(level: int, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
        out = io.BytesIO()
        drawn.save(out, "PNG", compress_level=level, compress_type=strategy)
        return out.getvalue()

    choices = [("RGB, Pillow default (level 6)", lambda: rgb(6)), ("RGB, level 1", lambda: rgb(1)),
               ("RGB, level 1, RLE", lambda: rgb(1, zlib.Z_RLE)), ("palette 256 (chosen)", lambda: encode_png(drawn))]
    print("| story.png encoding | encode ms | size KB |")
    print("|---|---|---|")
    for label, encode in choices:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            data = encode()
            times.append((time.perf_counter() - started) * 1000)
        print(f"| {label} | {statistics.median(times):.1f} | {len(data) / 1024:.0f} |")
    print()


if __name__ == "__main__":
    main()
