"""Helpers for the sharing tests: an app with listeners (events through the real ingest), shares."""
from __future__ import annotations

import io
import json
from html.parser import HTMLParser

import pytest
from PIL import Image

from helpers.server import basic, http, make_tenant
from helpers.story import NOW, identify, ms, send, track, viewer_token

YEAR = NOW.year
# A user id and name that must never show up in a link.
USER = "ana.lima@example.com"
NAME = "Ana Lima"


def plays(user: str, count: int, *, artist: str = "Björk", start_day: int = 1) -> list[dict]:
    start = ms(f"{YEAR}-03-{start_day:02d}T12:00:00")
    return [track(user, "Song Played", start + i * 3_600_000 * 25,
                  {"song_id": f"s{i % 7}", "song": f"Song {i % 7}", "artist": artist if i % 3 else "Mitski",
                   "genre": "art pop", "ms_played": 180_000, "device": "ios"})
            for i in range(count)]


@pytest.fixture
def soundwave(app, live_server):
    """The music app with two eligible listeners (Ana, Ben) and one who is not (Cy)."""
    tenant = make_tenant("Soundwave", deep_link_scheme="soundwave", share_base_url="https://soundwave.app",
                         brand={"accent": "#1ed760"})
    send(live_server, tenant.write_key,
         [identify(USER, {"name": NAME, "email": USER, "plan": "premium"}, ms(f"{YEAR}-01-02T00:00:00"))]
         + plays(USER, 40) + plays("ben", 30, artist="Caribou") + plays("cy", 2))
    return tenant


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post_json(server, path: str, body: object, headers: dict) -> object:
    return http("POST", server.url + path, json.dumps(body).encode(),
                {"Content-Type": "application/json", **headers})


def share(server, tenant, user: str = USER, **body) -> dict:
    """Share ``user``'s year-in-music card; the reply must be 201."""
    token = viewer_token(server, tenant.secret_key, user)
    reply = post_json(server, "/v1/shares", {"template": "year-in-music", **body}, bearer(token))
    assert reply.status == 201, reply.body
    return reply.json()


def png(reply) -> Image.Image:
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(reply.body))
    assert image.format == "PNG"
    image.load()
    return image


def jpeg_bytes(size: tuple[int, int] = (320, 200), *, gps: bool = False, orientation: int | None = None) -> bytes:
    """A JPEG photo (a gradient), optionally with GPS coordinates and an EXIF orientation."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 3.3)}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (64, 64), mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 40, 90, 128) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def png_bomb(side: int) -> bytes:
    """A real PNG of side×side 1-bit pixels, all black: kilobytes on disk, side² pixels decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    rows = [packer.compress(row * 1024) for _ in range(side // 1024)]
    rows.append(packer.compress(row * (side % 1024)))
    idat = b"".join(rows) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class MetaTags(HTMLParser):
    """Collects <meta property|name=… content=…> from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        key = found.get("property") or found.get("name")
        if tag == "meta" and key:
            self.tags[key] = found.get("content") or ""


def meta_tags(html: str) -> dict[str, str]:
    parser = MetaTags()
    parser.feed(html)
    return parser.tags


__all__ = ["USER", "NAME", "YEAR", "basic", "bearer", "http", "jpeg_bytes", "make_tenant", "meta_tags", "plays",
           "png", "png_bomb", "png_bytes",
           "post_json", "send", "share", "viewer_token", "identify", "ms"]
