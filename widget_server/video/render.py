"""A share's video, from its frozen story: the scene plan, drawn and encoded into its file."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from PIL import Image

from ..share import images, shares, uploads
from ..share.cards import Palette
from ..store.models import Share, Upload
from . import draw, encode, files, scenes

log = logging.getLogger(__name__)

PHOTO_DECODE_SIZE = 1024  # an image frame shows the picture across the video's width


def story_of(share: Share) -> draw.Story:
    content = images.content_of(share)

    def photo(src: str) -> Image.Image | None:
        upload = shares.upload_named_by(src, share.app_id)
        return uploads.open_stored(upload, PHOTO_DECODE_SIZE) if upload is not None else None

    return draw.Story(content, images.modules_of(share), Palette.from_theme(content.theme), photo)


def soundtrack_of(share: Share) -> Path | None:
    """The file of the soundtrack the share's template named, when it is still the app's."""
    named = (share.card.get("video") or {}).get("soundtrack")
    if not named:
        return None
    upload = Upload.get_or_none((Upload.id == named) & (Upload.app == share.app_id) & (Upload.format == "aac"))
    path = uploads.upload_dir() / uploads.stored_name(upload) if upload is not None else None
    if path is None or not path.exists():
        log.warning("share %s: its soundtrack %s is gone; the video is silent", share.id, named)
        return None
    return path


def render(share: Share, path: Path | None = None, timing: encode.Timing | None = None) -> Path:
    """Draw and encode the share's video into its file (or ``path``); the file's path."""
    started = time.perf_counter()
    plan = scenes.plan(share.card)
    story = story_of(share)
    target = path or files.video_path(share.id)
    audio = soundtrack_of(share)
    files.write(target, lambda partial: encode.encode(partial, plan, lambda i, scene: draw.scene_art(scene, i, story),
                                                      timing, audio))
    log.info("video of share %s: %d scenes in %.1f s", share.id, len(plan), time.perf_counter() - started)
    return target
