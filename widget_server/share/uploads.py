"""User pictures for cards: checked by content, size-limited, re-encoded from pixels, stored.

Only JPEG, PNG and WebP are accepted, by what Pillow detects in the bytes (the file name and
Content-Type are ignored). The declared pixel count is checked before anything is decoded, so a
small file that would inflate to gigabytes (a decompression bomb) costs nothing. The stored file
is made from the pixels alone, after applying the EXIF orientation, so no metadata (GPS, camera,
ICC) survives; its name is random and made here.
"""
from __future__ import annotations

import io
import logging
import re
import secrets
from pathlib import Path

from flask import Response, current_app, jsonify, request, send_from_directory
from PIL import Image, ImageOps
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import APIError, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from ..store import private_files
from ..store.models import Upload
from . import access
from .blueprint import bp
from .public_url import public_base

log = logging.getLogger(__name__)

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
UPLOAD_DIR = "uploads"
STORED_NAME = re.compile(r"^([A-Za-z0-9_-]{22})\.(jpg|png)$")
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


class TooManyPixels(APIError):
    status, code, message = 413, "image_too_large", "The image has too many pixels."


def upload_dir() -> Path:
    return Path(current_app.instance_path) / UPLOAD_DIR


@bp.post("/v1/uploads")
def create_upload() -> tuple[Response, int]:
    caller = access.viewer_or_secret("upload")
    base = public_base()  # refused before anything is stored, so nothing accepted goes unanswered
    data = read_body(current_app.config["UPLOAD_MAX_BYTES"])
    image, fmt = decode(data, current_app.config["UPLOAD_MAX_PIXELS"], current_app.config["UPLOAD_MAX_SIDE"])
    encoded, ext = reencode(image)
    upload_id = secrets.token_urlsafe(16)
    path = private_files.make_dir(upload_dir()) / f"{upload_id}.{ext}"
    private_files.write_file(path, encoded)
    try:
        Upload.create(id=upload_id, app=caller.app_id, user_id=caller.user_id if caller.kind == "viewer" else None,
                      format="jpeg" if ext == "jpg" else "png", width=image.width, height=image.height,
                      size=len(encoded))
    except BaseException:  # (a full disk, a locked store) no file without its row
        path.unlink(missing_ok=True)
        raise
    log.info("upload %s stored (%s %dx%d from %s)", upload_id, ext, image.width, image.height, fmt)
    return jsonify(id=upload_id, url=f"{base}/u/{upload_id}.{ext}",
                   width=image.width, height=image.height), 201


def read_body(limit: int, what: str = "image") -> bytes:
    """The file's bytes from a multipart form (field ``file``) or the raw body, at most ``limit``."""
    too_big = PayloadTooLarge(f"The {what} is larger than {limit // (1024 * 1024)} MB.",
                              details={"file": [f"Larger than {limit} bytes."], "limit_bytes": limit})
    is_form = request.mimetype == "multipart/form-data"
    allowed = limit + (MULTIPART_OVERHEAD if is_form else 0)
    if request.content_length is not None and request.content_length > allowed:
        raise too_big
    if is_form:
        request.max_content_length = allowed
        try:
            stored = request.files.get("file") or next(iter(request.files.values()), None)
        except RequestEntityTooLarge:
            raise too_big from None
        if stored is None:
            raise ValidationFailed(f"Send the {what} as the form field 'file' (or as the raw body).",
                                   details={"file": ["Missing data for required field."]})
        data = stored.stream.read(limit + 1)
    else:
        data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise too_big
    if not data:
        raise ValidationFailed("The upload is empty.", details={"file": ["Empty."]})
    return data


def decode(data: bytes, max_pixels: int, max_side: int) -> tuple[Image.Image, str]:
    """The upright pixels of a JPEG/PNG/WebP, scaled to at most ``max_side``; refuses anything else."""
    not_image = UnsupportedMediaType("The upload is not a JPEG, PNG or WebP image.",
                                     details={"file": ["Not a JPEG, PNG or WebP image."]})
    try:
        # formats=: only these decoders ever see the bytes; others' parsers are not exposed.
        image: Image.Image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except Image.DecompressionBombError:
        raise _bomb(None, max_pixels) from None
    except (OSError, SyntaxError, ValueError):  # UnidentifiedImageError is an OSError too
        raise not_image from None
    fmt = image.format or ""
    width, height = image.size
    if width * height > max_pixels:  # checked on the header, before a single pixel is decoded
        raise _bomb((width, height), max_pixels)
    try:
        if fmt == "JPEG":
            image.draft("RGB", (max_side, max_side))  # decode big JPEGs at a reduced scale directly
        # Read the orientation, then let go of the raw EXIF (never stored): exif_transpose would
        # otherwise write the block back, and that raises TypeError/struct.error on damaged ones.
        image.getexif()
        image.info.pop("exif", None)
        image = ImageOps.exif_transpose(image)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except Image.DecompressionBombError:
        raise _bomb((width, height), max_pixels) from None
    except (OSError, SyntaxError, ValueError) as exc:
        log.info("upload could not be decoded: %s", exc)
        raise UnsupportedMediaType("The image is damaged or truncated.",
                                   details={"file": ["Could not be decoded."]}) from None
    return image, fmt


def _bomb(size: tuple[int, int] | None, max_pixels: int) -> TooManyPixels:
    shown = f"{size[0]}×{size[1]} pixels" if size else "too many pixels"
    return TooManyPixels(f"The image is {shown}; at most {max_pixels:,} pixels are accepted.",
                         details={"file": [f"More than {max_pixels} pixels."], "limit_pixels": max_pixels})


def reencode(image: Image.Image) -> tuple[bytes, str]:
    """Fresh file bytes from the pixels: PNG when the picture has transparency, else JPEG."""
    if image.mode.startswith("I"):  # 16/32-bit greyscale: scale to 8 bits instead of clipping to white
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    clean = image.convert("RGBA" if has_alpha else "RGB")
    clean.info = {}  # no EXIF, ICC profile, text chunks or comments reach the new file
    out = io.BytesIO()
    if has_alpha:
        clean.save(out, "PNG", optimize=True)
        return out.getvalue(), "png"
    clean.save(out, "JPEG", quality=88, optimize=True, progressive=True)
    return out.getvalue(), "jpg"


PICTURE_FORMATS = ("jpeg", "png")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "aac": "m4a"}  # an app's soundtrack (video/soundtracks.py) is AAC


def stored_name(upload: Upload) -> str:
    """The upload's file name in ``upload_dir()``, and the last part of a picture's ``/u/`` URL
    (soundtracks are not served: only the video they are in)."""
    return f"{upload.id}.{EXTENSIONS.get(upload.format, 'png')}"


def open_stored(upload: Upload, size_hint: int) -> Image.Image | None:
    """A stored upload's pixels, at least ``size_hint`` px across when the file allows (JPEGs
    decode straight to a smaller scale), or None if its file is gone."""
    path = upload_dir() / stored_name(upload)
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size_hint, size_hint))
            image.load()
            return image
    except FileNotFoundError:
        log.warning("upload %s is missing its file", upload.id)
        return None


@bp.get("/u/<name>")
def serve_upload(name: str) -> Response:
    if not STORED_NAME.match(name) or not (upload_dir() / name).is_file():
        raise NotFound("No such upload.")
    response = send_from_directory(upload_dir(), name)
    # Stored names are random and files never change: cache forever, never sniff, never script.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
