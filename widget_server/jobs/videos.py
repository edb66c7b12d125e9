"""A share's video drawn on the queue: made when the share is, again when its file is missing (a
new render version, another machine's cache), and by ``recap videos render`` for a campaign."""
from __future__ import annotations

import logging

from ..share.shares import now_ms
from ..store.models import Share
from ..video import files, render
from .queue import job, running_task

log = logging.getLogger(__name__)


@job("render_video")
def render_video(share_id: str) -> bool:
    """Draw and encode the share's video unless its file is there; whether one was made.

    A share revoked or ended meanwhile keeps no file: the video is written, then the share is
    looked at again, so either this sees the revocation or the revocation's ``images.forget``
    sees the file. The last failed attempt marks the video failed (earlier ones are retried).
    """
    share = Share.get_or_none(Share.id == share_id)
    if share is None or share.video_status == "off" or not _live(share_id):
        return False
    path = files.video_path(share_id)
    if not path.exists():
        try:
            render.render(share)
        except Exception:
            task = running_task()
            if task is None or not task.retries:
                _mark(share_id, "failed")
            raise
        if not _live(share_id):
            path.unlink(missing_ok=True)
            return False
    _mark(share_id, "ready")
    return True


def _live(share_id: str) -> bool:
    return bool(Share.select().where((Share.id == share_id) & Share.revoked_at.is_null()
                                     & (Share.expires_at > now_ms())).exists())


def _mark(share_id: str, status: str) -> None:
    Share.update(video_status=status).where(Share.id == share_id).execute()
