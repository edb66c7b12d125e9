"""The share images: exact sizes, QR codes a real decoder reads, rendered once and cached."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import zxingcpp

from helpers.server import http
from helpers.share import USER, bearer, png, share, viewer_token
from widget_server.errors import Gone
from widget_server.share import drawing, images
from widget_server.share.cards import RENDER_VERSION
from widget_server.store.db import database
from widget_server.store.models import Share

SIZES = {"story": (1080, 1920), "og": (1200, 630), "sticker": (1080, 1920)}


@pytest.mark.parametrize("kind", ["story", "og", "sticker"])
def test_card_images_have_the_stated_sizes(soundwave, live_server, kind):
    body = share(live_server, soundwave, caption="that song when")
    assert png(http("GET", body["images"][kind])).size == SIZES[kind]


def test_the_sticker_is_the_card_with_rounded_corners_on_nothing(soundwave, live_server):
    """Instagram Stories lays the sticker over a gradient of the share's two background colours:
    around its rounded corners nothing may show, inside it is the card, opaque."""
    body = share(live_server, soundwave)
    sticker = png(http("GET", body["images"]["sticker"])).convert("RGBA")
    width, height = sticker.size
    for corner in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1), (4, 4)):
        assert sticker.getpixel(corner)[3] == 0, corner
    assert all(sticker.getpixel(point)[3] == 255 for point in ((width // 2, 0), (0, height // 2), (540, 960)))
    story = png(http("GET", body["images"]["story"])).convert("RGB")
    assert _mean_difference(sticker.convert("RGB").crop((0, 100, width, height - 100)),
                            story.crop((0, 100, width, height - 100))) < 3  # the same card


def _mean_difference(a, b) -> float:
    pixels = list(zip(a.get_flattened_data(), b.get_flattened_data(), strict=True))
    return sum(abs(x - y) for p, q in pixels for x, y in zip(p, q, strict=True)) / (3 * len(pixels))


@pytest.mark.parametrize("kind", ["story", "qr"])
def test_qr_code_decodes_to_exactly_the_share_url(soundwave, live_server, kind):
    body = share(live_server, soundwave)
    image = png(http("GET", body["images"][kind]))
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [code.text for code in found] == [body["url"]]
    if kind == "qr":
        code = found[0]
        assert code.ec_level == "M"
        assert min(image.size) >= 600  # scannable from a phone held up to a screen


def test_qr_image_has_a_four_module_quiet_zone(soundwave, live_server):
    image = png(http("GET", share(live_server, soundwave)["images"]["qr"])).convert("L")
    dark = lambda x, y: image.getpixel((x, y)) < 128  # noqa: E731
    margin = next(x for x in range(image.width) if any(dark(x, y) for y in range(image.height)))
    top = next(y for y in range(image.height) if dark(margin, y))
    # The top-left finder pattern's first row is 7 dark modules: that gives the module size.
    run = next(x for x in range(margin, image.width) if not dark(x, top)) - margin
    module = run / 7
    assert module >= 10
    assert (margin / module, top / module) == (4, 4)


def test_second_fetch_is_a_304_and_nothing_is_rendered_again(app, soundwave, live_server):
    body = share(live_server, soundwave)
    url = body["images"]["story"]
    first = http("GET", url)
    assert first.status == 200 and "render;dur=" in first.headers["Server-Timing"]
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith('W/')
    assert "max-age=" in first.headers["Cache-Control"] and "public" in first.headers["Cache-Control"]

    cached = Path(app.instance_path) / "share_cache" / body["id"][:2] / f"{body['id']}-story-v{RENDER_VERSION}.png"
    stamp = cached.stat().st_mtime_ns
    again = http("GET", url)
    assert again.status == 200 and again.body == first.body and again.headers["ETag"] == etag
    assert "render;" not in again.headers["Server-Timing"]
    revalidated = http("GET", url, None, {"If-None-Match": etag})
    assert revalidated.status == 304 and revalidated.body == b"" and revalidated.headers["ETag"] == etag
    assert cached.stat().st_mtime_ns == stamp


def test_unknown_image_name_is_refused(soundwave, live_server):
    body = share(live_server, soundwave)
    reply = http("GET", body["url"] + "/card.gif")
    assert reply.status == 422 and "image" in reply.json()["error"]["details"]


def test_cards_use_the_bundled_manrope_font():
    import font_manrope

    face = drawing.font("ExtraBold", 40).manrope  # (first of the chain: docs/SHARING.md)
    assert Path(face.path).parent == Path(font_manrope.__file__).parent / "files"
    assert face.getname() == ("Manrope", "ExtraBold")


def test_simultaneous_first_requests_render_once(soundwave, live_server):
    from concurrent.futures import ThreadPoolExecutor

    url = share(live_server, soundwave)["images"]["story"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: http("GET", url), range(6)))
    assert {reply.status for reply in replies} == {200}
    assert len({reply.body for reply in replies}) == 1
    assert sum("render;" in reply.headers.get("Server-Timing", "") for reply in replies) == 1


def test_a_request_that_renders_after_the_share_was_revoked_leaves_no_file(app, soundwave, live_server):
    # A GET checked the share (still live), then the revoke ran to the end, then the GET renders.
    body = share(live_server, soundwave)
    token = viewer_token(live_server, soundwave.secret_key, USER)
    assert http("DELETE", f"{live_server.url}/v1/shares/{body['id']}", None, bearer(token)).status == 200
    with app.app_context(), database.connection_context():
        with pytest.raises(Gone):
            images.cached_file(body["id"], "story", lambda: Share.get_by_id(body["id"]))
        assert not images.cache_path(body["id"], "story").exists()


def test_a_revoke_during_a_first_render_deletes_the_file_once_it_is_written(app, soundwave, live_server):
    # The revoke was written just after the render checked for it; its clean-up (forget) comes
    # while the file is still being drawn.
    body = share(live_server, soundwave)

    def forget() -> None:
        with app.app_context():
            images.forget(body["id"])
    clean_up = threading.Thread(target=forget)

    def load_while_revoking() -> Share:
        clean_up.start()
        clean_up.join(timeout=1)  # it must wait for this render, not find nothing and return
        return Share.get_by_id(body["id"])

    with app.app_context(), database.connection_context():
        images.cached_file(body["id"], "story", load_while_revoking)
        clean_up.join()
        assert not images.cache_path(body["id"], "story").exists()
