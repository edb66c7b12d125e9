"""User-provided pictures for the learning app: drawn with Pillow, uploaded like a user would."""
from __future__ import annotations

import io
import json
import random
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw

from .instance import DemoApp
from .people import Person

PALETTES = (("#ff7a59", "#ffd166"), ("#6a4cff", "#3ec1d3"), ("#1ed760", "#0b6e4f"),
            ("#ef476f", "#ffd6e0"), ("#118ab2", "#06d6a0"), ("#f4a261", "#264653"))


def picture(person: Person, seed: int, size: int = 384) -> bytes:
    """A PNG "selfie": a gradient, a sun and hills in the person's colours (deterministic)."""
    rng = random.Random(f"{seed}:{person.user_id}:photo")
    top, bottom = (tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in rng.choice(PALETTES))
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):
        t = y / (size - 1)
        draw.line([(0, y), (size, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    r = rng.randint(size // 10, size // 6)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size // 2)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 244, 214))
    for layer in range(3):
        base = size * (0.6 + 0.13 * layer)
        shade = tuple(max(0, c - 50 - 30 * layer) for c in bottom)
        points = [(0, size)] + [(x, base - rng.randint(0, size // 6)) for x in range(0, size + 64, 64)] + [(size, size)]
        draw.polygon(points, fill=shade)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def chosen(people: list[Person], seed: int, share: float = 0.3, limit: int = 60) -> list[Person]:
    """The learners who upload a picture: the showcase users and about a third of the rest."""
    rng = random.Random(f"{seed}:photos")
    # (drawn for every user but 0, showcase or not, so that who is one moves no one else's picture)
    return [p for p in people if p.index == 0 or rng.random() < share or p.showcase][:limit]


def _post(url: str, body: bytes, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


def viewer_token(app: DemoApp, host: str, user_id: str) -> str:
    """What an app's back end does: swap its secret key for a short-lived token for one user."""
    body = json.dumps({"user_id": user_id}).encode()
    return _post(host + "/v1/viewer-tokens", body, {"Content-Type": "application/json",
                                                    "Authorization": f"Bearer {app.secret_key}"})["token"]


def upload(app: DemoApp, host: str, person: Person, seed: int) -> dict:
    """Upload one person's picture as that person (with their viewer token); returns the answer."""
    token = viewer_token(app, host, person.user_id)
    return _post(host + "/v1/uploads", picture(person, seed),
                 {"Content-Type": "image/png", "Authorization": f"Bearer {token}"})


def upload_for(app: DemoApp, host: str, people: list[Person], seed: int) -> dict[str, str]:
    """Upload pictures for the chosen learners; user id → the URL the server serves it at."""
    who = chosen(people, seed)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda p: upload(app, host, p, seed), who))
    return {p.user_id: answer["url"] for p, answer in zip(who, answers, strict=True)}
