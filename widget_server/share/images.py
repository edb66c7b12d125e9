"""Share images: rendered once with Pillow, then kept on disk under the instance folder.

Files are keyed by share id, image kind and ``cards.RENDER_VERSION``; a share's data is frozen,
so a key's bytes never change and the key doubles as a strong ETag.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from PIL import Image

from .. import monitoring
from ..errors import Gone
from ..store import private_files
from ..store.models import Share
from . import cards, qr, sticker, uploads
from .frozen import FrozenShare

log = logging.getLogger(__name__)

KINDS = ("story", "og", "qr", "sticker")
# Cards draw the photo at most ~260 px across: JPEGs are decoded at a reduced scale near this.
PHOTO_DECODE_SIZE = 512
CACHE_DIR = "share_cache"
# Striped locks: two requests for the same new image render it once, without one global lock.
# Re-entrant: drawing the sticker asks for the story's file, whose stripe may be its own.
_locks = [threading.RLock() for _ in range(32)]


def _lock(path: Path) -> threading.RLock:
    return _locks[hash(path.name) % len(_locks)]


def cache_dir() -> Path:
    return Path(current_app.instance_path) / CACHE_DIR


def cache_path(share_id: str, kind: str) -> Path:
    return cache_dir() / share_id[:2] / f"{share_id}-{kind}-v{cards.RENDER_VERSION}.png"


def etag(share_id: str, kind: str) -> str:
    return f"{share_id}-{kind}-v{cards.RENDER_VERSION}"


def cached_file(share_id: str, kind: str, load: Callable[[], Share]) -> tuple[Path, float | None]:
    """The image's file, rendering it first if needed; also the render time in ms (None if cached).

    ``load`` fetches the whole share, and is only called when there is something to render.
    """
    path = cache_path(share_id, kind)
    if path.exists():
        return path, None
    with _lock(path):
        if path.exists():  # rendered by the request we waited for
            return path, None
        started = time.perf_counter()
        share = load()
        data = render(share, kind)
        elapsed = (time.perf_counter() - started) * 1000
        monitoring.CARD_SECONDS.labels(kind).observe(elapsed / 1000)
        if not Share.select().where((Share.id == share_id) & Share.revoked_at.is_null()).exists():
            # Revoked (or erased) while it was drawn, so forget() found no file to delete.
            raise Gone("This card was unshared by its owner.", details={"reason": "revoked"})
        private_files.make_dir(path.parent)
        private_files.write_file(path, data)  # readers see the whole file or none
        log.debug("rendered %s for share %s in %.1f ms", kind, share.id, elapsed)
        return path, elapsed


def render(share: Share, kind: str) -> bytes:
    """PNG bytes of one of the share's images."""
    if kind == "qr":
        return cards.encode_png(qr.png_image(modules_of(share)))
    if kind == "sticker":
        # The story card cut out: drawn from the story's file (drawn first if need be, and kept),
        # not by drawing the card a second time.
        story_file, _ = cached_file(share.id, "story", lambda: share)
        with Image.open(story_file) as story:
            return cards.encode_png(sticker.render_sticker(story))
    content = content_of(share)
    if kind == "og":
        return cards.encode_png(cards.render_og(content))
    return cards.encode_png(cards.render_story(content, modules_of(share)))


def modules_of(share: Share) -> qr.Matrix:
    """The QR modules frozen with the share (computed from its URL for older rows)."""
    rows = share.card.get("qr")
    return qr.unpack(rows) if rows else qr.matrix(share.url)


def content_of(share: Share) -> cards.CardContent:
    frozen: FrozenShare = share.card
    photo: Image.Image | None = None
    if share.upload_id:
        upload = share.upload
        assert upload is not None  # (its id is set)
        photo = uploads.open_stored(upload, PHOTO_DECODE_SIZE)
    return cards.CardContent.from_card(frozen["card"], app_name=(frozen.get("app") or {}).get("name", ""),
                                       period=frozen.get("period") or "", caption=frozen.get("caption"),
                                       photo=photo, locale=frozen.get("locale"),
                                       direction=frozen.get("direction") or "ltr")


def forget(share_id: str) -> None:
    """Delete a share's cached files (on revocation: unshared pictures should not linger): its
    images, its video (video/files.py keeps it beside them) and any of older render versions."""
    for kind in KINDS:
        path = cache_path(share_id, kind)
        with _lock(path):  # a render in progress finishes first, then its file goes
            path.unlink(missing_ok=True)
    for path in cache_path(share_id, KINDS[0]).parent.glob(f"{share_id}-*"):
        path.unlink(missing_ok=True)
