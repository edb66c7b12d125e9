"""Shares in the database: freezing a card, finding a live share by its token, revoking it."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import current_app
from peewee import IntegrityError

from .. import throttle
from ..apps.link_schemes import SCHEME, UNSAFE_SCHEMES
from ..auth import Caller
from ..engine.registry import registry
from ..errors import Gone, NotFound, ValidationFailed
from ..jobs.queue import enqueue
from ..store.db import write_transaction
from ..store.models import App, Share, Upload
from . import images, limits, qr, sticker, tokens, uploads
from .frozen import FrozenShare, SharedApp, VideoSettings, kept_frames
from .public_url import public_base

log = logging.getLogger(__name__)

# Our own upload URLs (``/u/<id>.<ext>``): the only images a card may show. Cards never fetch
# other people's URLs, so a template can't make the server request arbitrary addresses.
SHARE_SWEEP_SECONDS = 600.0  # how often one process deletes ended shares, at most
SHARE_SWEEP_ROWS = 500  # and how many at a time

UPLOAD_PATH = re.compile(r"/u/([A-Za-z0-9_-]{22})\.(?:jpg|png)$")


def website(app: SharedApp | dict[str, Any]) -> str | None:
    """The app's web base (``share_base_url``) when it is an http(s) URL, without a trailing slash."""
    base = str(app.get("share_base_url") or "").rstrip("/")
    return base if base.startswith(("https://", "http://")) else None


def now_ms() -> int:
    clock: Callable[[], int] = current_app.config["SHARE_CLOCK"]
    return clock()


def create(caller: Caller, template_id: str, caption: str | None, upload: Upload | None) -> tuple[Share, bool]:
    """The caller's share of their card as it is now: (share, whether it was made just now).

    Asking again for the same card (same period, content, caption and picture) answers the live
    share already made, so repeated taps on Share neither add rows nor count against the limits;
    taps that reach two processes at once are made one share by the database (``live_key``).
    """
    base = public_base()  # before any work: without a trustworthy base there is no link to give
    sweep_ended()
    with limits.user_lock(caller):
        limits.check_rate(caller, now_ms())  # cheap, before the story is assembled
        frozen, upload, version = _frozen_card(caller, template_id, caption, upload)
        key = _live_key(caller, template_id, frozen, upload, base)
        same = _live_share(caller, key)
        if same is not None:
            return same, False
        limits.check_live(caller, template_id, now_ms())
        try:
            share = _store(caller, template_id, frozen, upload, base, key, version)
        except IntegrityError:  # another process stored this card a moment ago
            same = _live_share(caller, key)
            if same is None:
                raise
            return same, False
    _prerender(share)
    return share, True


def _prerender(share: Share) -> None:
    """Have a worker draw the new share's images (jobs/renders.py) and its video (jobs/videos.py).
    A queue that cannot take the job costs nothing but speed: the first request for an image draws
    it, and the first request for the video enqueues it again."""
    for job_name in ("render_share", "render_video") if share.video_status == "pending" else ("render_share",):
        try:
            enqueue(job_name, share.id)
        except Exception:
            log.warning("share %s: %s could not be queued; done on first view", share.id, job_name, exc_info=True)
            if job_name == "render_video":  # no status: the first request for the video queues it
                Share.update(video_status=None).where(Share.id == share.id).execute()


def _frozen_card(caller: Caller, template_id: str, caption: str | None,
                 upload: Upload | None) -> tuple[FrozenShare, Upload | None, int]:
    """What a share of the caller's story shows, assembled now, the picture on it and the
    template version it came from."""
    from ..stories.routes import story_for

    try:
        story = story_for(caller, template_id)
    except NotFound:
        raise ValidationFailed("There is no story template with this id.",
                               details={"template": [f"Unknown template {template_id!r}."]}) from None
    card = story["card"]
    if upload is None:
        upload = upload_named_by(card.get("image"), caller.app_id)
    app = App.get_by_id(caller.app_id)
    frozen: FrozenShare = {
        "card": card,
        "story_title": story["title"],
        "period": story["period"]["label"],
        "app": {"name": app.name, "deep_link_scheme": app.deep_link_scheme,
                "share_base_url": app.share_base_url},
        "caption": caption or None,
        "locale": story["locale"],
        "direction": story["direction"],
        "frames": kept_frames(story["frames"]),
        "video": _video_settings(caller.app_id, template_id),
    }
    return frozen, upload, story["version"]


def _video_settings(app_id: int, template_id: str) -> VideoSettings:
    video = registry.get(app_id, template_id).spec.get("video") or {}
    return {"enabled": bool(video.get("enabled", True)), "soundtrack": video.get("soundtrack")}


def _live_key(caller: Caller, template_id: str, frozen: FrozenShare, upload: Upload | None, base: str) -> str:
    """What two shares of one card have in common: user, template, the frozen card (its QR code
    follows from its URL, so it is left out), the picture and the base of the link."""
    content = {k: v for k, v in frozen.items() if k != "qr"}
    identity = [caller.user_id, template_id, content, upload.id if upload else None, base]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _live_share(caller: Caller, key: str) -> Share | None:
    found: Share | None = Share.select().where(
        (Share.app == caller.app_id) & (Share.live_key == key) & Share.revoked_at.is_null()
        & (Share.expires_at > now_ms())).first()
    return found


def _store(caller: Caller, template_id: str, frozen: FrozenShare, upload: Upload | None, base: str,
           key: str, version: int) -> Share:
    share_id = tokens.new_share_id()
    url = f"{base}/s/{tokens.dumps(share_id)}"
    frozen = {**frozen, "qr": qr.pack(qr.matrix(url))}
    created = now_ms()
    with write_transaction():
        # An ended share of the same card gives its key up (a revoked one already has).
        Share.update(live_key=None).where((Share.app == caller.app_id) & (Share.live_key == key)
                                          & (Share.expires_at <= created)).execute()
        share = Share.create(id=share_id, app=caller.app_id, user_id=caller.user_id, template_id=template_id,
                             card=frozen, upload=upload, url=url, live_key=key, created_at=created,
                             template_version=version,
                             video_status="pending" if frozen["video"]["enabled"] else "off",
                             expires_at=created + current_app.config["SHARE_TTL"] * 1000)
    log.info("share %s created for template %s", share_id, template_id)
    return share


def sweep_ended() -> int:
    """Delete shares expired or revoked more than SHARE_KEEP_ENDED seconds ago, with their images.

    Until then such a link answers 410 (expired or unshared), after it 404. Run where shares are
    made, at most every SHARE_SWEEP_SECONDS per process and SHARE_SWEEP_ROWS shares at a time,
    so the table and the image cache hold about the live shares.
    """
    return delete_ended() if throttle.due("share_sweep", SHARE_SWEEP_SECONDS) else 0


def delete_ended() -> int:
    """Delete up to SHARE_SWEEP_ROWS ended shares now, with their images (also the queue's chore)."""
    cutoff = now_ms() - current_app.config["SHARE_KEEP_ENDED"] * 1000
    ended = [row.id for row in Share.select(Share.id)
             .where((Share.expires_at < cutoff) | (Share.revoked_at < cutoff)).limit(SHARE_SWEEP_ROWS)]
    for share_id in ended:
        images.forget(share_id)
    if ended:
        Share.delete().where(Share.id.in_(ended)).execute()
        log.info("%d ended shares deleted", len(ended))
    return len(ended)


def upload_named_by(url: Any, app_id: int) -> Upload | None:
    """The Upload behind a card's image URL when it is one of this app's uploads."""
    if not isinstance(url, str):
        return None
    match = UPLOAD_PATH.search(url.split("?", 1)[0])
    if not match:
        return None
    return Upload.get_or_none((Upload.id == match.group(1)) & (Upload.app == app_id)
                              & Upload.format.in_(uploads.PICTURE_FORMATS))


def owned_upload(caller: Caller, upload_id: str) -> Upload:
    """The upload, if the caller may put it on a card: theirs, or their app's server's."""
    upload = Upload.get_or_none(Upload.id == upload_id)
    if (upload is None or upload.app_id != caller.app_id or upload.format not in uploads.PICTURE_FORMATS
            or (upload.user_id is not None and upload.user_id != caller.user_id)):
        raise ValidationFailed("The upload can't be used on this card.",
                               details={"upload_id": ["No upload with this id belongs to you."]})
    return upload


def live(token: str, *, status_only: bool = False) -> Share:
    """The share a public token names: 404 when forged or unknown, 410 when expired or revoked.

    ``status_only`` reads just the id and the expiry/revocation columns: enough to serve a cached
    image, and it skips parsing the frozen card on that hot path.
    """
    share_id = tokens.loads(token)
    columns = (Share.id, Share.expires_at, Share.revoked_at) if status_only else ()
    share: Share | None = Share.select(*columns).where(Share.id == share_id).first() if share_id else None
    if share is None:
        raise NotFound("No such share.")
    if share.revoked_at is not None:
        raise Gone("This card was unshared by its owner.", details={"reason": "revoked"})
    if share.expires_at <= now_ms():
        raise Gone("This shared card has expired.", details={"reason": "expired"})
    return share


def owned(caller: Caller, share_id: str) -> Share:
    """The share, if the caller may see and revoke it: its owner (viewer token) or its app's
    server (secret key)."""
    share = Share.get_or_none(Share.id == share_id)
    # Someone else's share answers like a missing one: ids are not confirmed to strangers.
    if share is None or share.app_id != caller.app_id or (
            caller.kind == "viewer" and share.user_id != caller.user_id):
        raise NotFound("No such share.")
    return share


def revoke(caller: Caller, share_id: str) -> Share:
    """Revoke a share: its owner (viewer token) or the app's server (secret key) may."""
    share = owned(caller, share_id)
    if share.revoked_at is None:
        share.revoked_at = now_ms()
        share.live_key = None
        share.save(only=[Share.revoked_at, Share.live_key])
        log.info("share %s revoked", share.id)
    return share


def share_text(frozen: FrozenShare) -> str:
    """What a share says beside its link, in the user's own voice and the app's name: "My 2026
    on Soundwave" (never another company's product name)."""
    period = str(frozen.get("period") or "").strip()
    app = str((frozen.get("app") or {}).get("name") or "").strip()
    mine = f"My {period}" if period else "My story"
    return f"{mine} on {app}" if app else mine


def links(share: Share) -> dict[str, Any]:
    """The share's public URL, its images, its text, the links that open the app, and the
    background colours Instagram Stories puts under the sticker."""
    token = share.url.rsplit("/", 1)[1]
    app = share.card.get("app") or {}
    web = website(app)
    universal = f"{web}/s/{token}" if web else None
    deep_link = universal or share.url
    scheme = str(app.get("deep_link_scheme") or "").lower()
    if SCHEME.match(scheme) and scheme not in UNSAFE_SCHEMES:
        deep_link = f"{scheme}://recap/{share.template_id}?share={token}"
    card = share.card.get("card") or {}
    return {"url": share.url, "deep_link": deep_link, "universal_link": universal,
            "images": {kind: f"{share.url}/{kind}.png" for kind in images.KINDS},
            "text": share_text(share.card), "background": sticker.background(card.get("theme")),
            "video": {"url": f"{share.url}/story.mp4", "status": share.video_status or "pending",
                      "poster": f"{share.url}/story.png"}}
