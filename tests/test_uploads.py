"""POST /v1/uploads: pictures checked by content, size-limited, re-encoded without metadata."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from helpers.server import basic, http
from helpers.share import USER, bearer, jpeg_bytes, png_bomb, png_bytes, post_json, share, viewer_token


def upload(server, body: bytes, headers: dict, content_type: str = "image/jpeg"):
    return http("POST", server.url + "/v1/uploads", body, {"Content-Type": content_type, **headers})


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "recapBoundary7MA4YWxk"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def viewer(soundwave, live_server) -> dict:
    return bearer(viewer_token(live_server, soundwave.secret_key, USER))


def fetch_image(url: str) -> Image.Image:
    reply = http("GET", url)
    assert reply.status == 200, reply.body
    image = Image.open(io.BytesIO(reply.body))
    image.load()
    return image


def test_jpeg_comes_back_without_gps_or_any_exif(live_server, viewer):
    original = jpeg_bytes(gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the test photo does carry GPS
    reply = upload(live_server, original, viewer)
    assert reply.status == 201, reply.body
    body = reply.json()
    assert {"id", "url"} <= set(body)
    stored = fetch_image(body["url"])
    assert stored.format == "JPEG"
    assert not stored.getexif() and not stored.getexif().get_ifd(0x8825)
    assert "exif" not in stored.info and "icc_profile" not in stored.info
    raw = http("GET", body["url"]).body
    assert b"PhoneMaker" not in raw and b"Exif" not in raw


def test_exif_orientation_is_applied_before_it_is_dropped(live_server, viewer):
    reply = upload(live_server, jpeg_bytes((320, 200), orientation=6), viewer)  # "rotate 90° clockwise"
    stored = fetch_image(reply.json()["url"])
    assert stored.size == (200, 320)


def test_photo_with_a_damaged_exif_block_is_stored_upright(live_server, viewer):
    # The Make entry's tag turned into 0x0125, a numeric tag holding text: Pillow reads such a
    # block but cannot write it back (struct.error), as phones' damaged blocks do.
    damaged = jpeg_bytes((320, 200), orientation=6).replace(b"\x01\x0f\x00\x02", b"\x01\x25\x00\x02", 1)
    reply = upload(live_server, damaged, viewer)
    assert reply.status == 201, reply.body
    stored = fetch_image(reply.json()["url"])
    assert stored.size == (200, 320) and not stored.getexif()


def test_multipart_and_raw_bodies_both_work_and_names_are_ours(live_server, viewer):
    data, content_type = multipart("file", "../../holiday-in-oslo.png", png_bytes())
    reply = upload(live_server, data, viewer, content_type)
    assert reply.status == 201, reply.body
    url = reply.json()["url"]
    assert "holiday" not in url and url.endswith(".png")  # transparency kept: stored as PNG
    assert fetch_image(url).mode == "RGBA"
    raw = upload(live_server, png_bytes(mode="L"), viewer, "application/octet-stream")
    assert raw.status == 201 and raw.json()["url"].endswith(".jpg")


def _encoded(mode: str, fmt: str) -> bytes:
    out = io.BytesIO()
    colour = {"RGB": (250, 120, 30), "RGBA": (250, 120, 30, 100), "LA": (200, 90), "CMYK": (0, 90, 200, 0),
              "I;16": 51200, "L": 200}.get(mode)
    image = (Image.new("RGB", (48, 32), (250, 120, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
             if mode == "P" else Image.new(mode, (48, 32), colour))
    image.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("mode, fmt, stored_as, grey", [
    ("RGB", "JPEG", ".jpg", False), ("CMYK", "JPEG", ".jpg", False), ("L", "JPEG", ".jpg", True),
    ("RGB", "WEBP", ".jpg", False), ("RGBA", "WEBP", ".png", False), ("RGBA", "PNG", ".png", False),
    ("LA", "PNG", ".png", True), ("P", "PNG", ".jpg", False), ("I;16", "PNG", ".jpg", True),
])
def test_every_accepted_kind_of_picture_is_stored_faithfully(live_server, viewer, mode, fmt, stored_as, grey):
    reply = upload(live_server, _encoded(mode, fmt), viewer, "application/octet-stream")
    assert reply.status == 201, reply.body
    assert reply.json()["url"].endswith(stored_as)
    stored = fetch_image(reply.json()["url"]).convert("RGB")
    assert stored.size == (48, 32)
    r, g, b = stored.getpixel((24, 16))
    if grey:
        assert abs(r - g) < 8 and abs(g - b) < 8 and 150 < r < 240  # 16-bit grey is scaled, not clipped
    else:
        assert max(r, g, b) - min(r, g, b) > 40  # still coloured


def test_stored_upload_is_served_immutable_and_unsniffable(live_server, viewer):
    url = upload(live_server, jpeg_bytes(), viewer).json()["url"]
    reply = http("GET", url)
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert "immutable" in reply.headers["Cache-Control"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert http("GET", live_server.url + "/u/../secret_keys").status == 404
    assert http("GET", live_server.url + "/u/AAAAAAAAAAAAAAAAAAAAAA.jpg").status == 404


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize("name, body, content_type, status, code", [
    ("text", b"hello, this is not a picture", "image/jpeg", 415, "unsupported_media_type"),
    ("html named .jpg", b"<html><script>alert(1)</script></html>", "image/jpeg", 415, "unsupported_media_type"),
    ("gif", _gif(), "image/gif", 415, "unsupported_media_type"),
    ("truncated jpeg", jpeg_bytes()[:600], "image/jpeg", 415, "unsupported_media_type"),
    ("empty", b"", "image/jpeg", 422, "validation_failed"),
    ("too big", b"\xff\xd8" + b"\0" * (2 * 1024 * 1024), "image/jpeg", 413, "payload_too_large"),
    ("bomb over our pixel limit", png_bomb(8000), "image/png", 413, "image_too_large"),
    ("bomb over Pillow's own limit", png_bomb(20000), "image/png", 413, "image_too_large"),
], ids=lambda value: value if isinstance(value, str) and " " in value or value in ("text", "gif", "empty") else "")
def test_bad_uploads_are_refused_clearly(app, live_server, viewer, name, body, content_type, status, code):
    app.config["UPLOAD_MAX_BYTES"] = 1024 * 1024
    reply = upload(live_server, body, viewer, content_type)
    assert reply.status == status, (name, reply.body)
    error = reply.json()["error"]
    assert error["code"] == code and "file" in error["details"] and error["message"], error


def test_too_big_multipart_is_refused(app, live_server, viewer):
    app.config["UPLOAD_MAX_BYTES"] = 1024 * 1024
    data, content_type = multipart("file", "big.jpg", b"\xff\xd8" + b"\0" * (2 * 1024 * 1024))
    reply = upload(live_server, data, viewer, content_type)
    assert reply.status == 413 and reply.json()["error"]["code"] == "payload_too_large"


def test_multipart_without_a_file_names_the_field(live_server, viewer):
    boundary = "b0undary"
    body = f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{boundary}--\r\n".encode()
    reply = upload(live_server, body, viewer, f"multipart/form-data; boundary={boundary}")
    assert reply.status == 422 and "file" in reply.json()["error"]["details"]


@pytest.mark.parametrize("who, status", [("secret_key", 201), ("write_key", 401), ("nobody", 401),
                                         ("forged", 401)])
def test_who_may_upload(soundwave, live_server, who, status):
    headers = {"secret_key": basic(soundwave.secret_key), "write_key": basic(soundwave.write_key),
               "nobody": {}, "forged": bearer("abc.def")}[who]
    assert upload(live_server, jpeg_bytes(), headers).status == status


def test_upload_and_caption_go_on_the_shared_card(soundwave, live_server, viewer):
    upload_id = upload(live_server, jpeg_bytes((600, 600)), viewer).json()["id"]
    plain = share(live_server, soundwave)
    with_photo = share(live_server, soundwave, caption="that song when", upload_id=upload_id)
    a = fetch_image(plain["images"]["story"]).convert("RGB")
    b = fetch_image(with_photo["images"]["story"]).convert("RGB")
    assert a.size == b.size == (1080, 1920)
    assert a.tobytes() != b.tobytes()


def test_app_server_upload_may_be_used_by_any_of_its_users(soundwave, live_server, viewer):
    upload_id = upload(live_server, jpeg_bytes(), basic(soundwave.secret_key)).json()["id"]
    reply = post_json(live_server, "/v1/shares", {"template": "year-in-music", "upload_id": upload_id}, viewer)
    assert reply.status == 201, reply.body


def test_learning_card_shows_the_photo_named_by_the_users_traits(app, live_server, query):
    from helpers.share import YEAR, identify, make_tenant, ms, send
    from helpers.story import track

    lingo = make_tenant("Lingo", deep_link_scheme="lingo", share_base_url="https://lingo.app")
    photo = upload(live_server, jpeg_bytes((500, 500)), basic(lingo.secret_key)).json()
    lessons = [track(user, "Lesson Completed", ms(f"{YEAR}-04-{day:02d}T18:00:00"),
                     {"lesson_id": f"l{day}", "lesson": f"Lesson {day}", "course": "Spanish",
                      "points": 20, "duration_s": 300, "score": 90})
               for user in ("lea", "max") for day in range(1, 8)]
    send(live_server, lingo.write_key,
         [identify("lea", {"name": "Lea", "photo_url": photo["url"]}, ms(f"{YEAR}-01-02T00:00:00"))] + lessons)

    with_photo, without = (share_for(live_server, lingo, user) for user in ("lea", "max"))
    assert query("SELECT upload_id FROM share WHERE id = ?", with_photo["id"]) == [(photo["id"],)]
    assert query("SELECT upload_id FROM share WHERE id = ?", without["id"]) == [(None,)]
    a = fetch_image(with_photo["images"]["story"]).convert("RGB")
    b = fetch_image(without["images"]["story"]).convert("RGB")
    # The picture sits top right, beside the title, in a ring of the theme's accent (#ffc800).
    def ring_pixels(image) -> int:
        region = image.crop((700, 230, 995, 525))
        return sum(1 for r, g, bl in region.get_flattened_data() if r > 230 and 180 < g < 220 and bl < 40)
    assert ring_pixels(a) > 2000 and ring_pixels(b) < 50


def share_for(server, tenant, user: str) -> dict:
    token = viewer_token(server, tenant.secret_key, user)
    reply = post_json(server, "/v1/shares", {"template": "learning-recap"}, bearer(token))
    assert reply.status == 201, reply.body
    return reply.json()
