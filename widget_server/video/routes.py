"""GET /s/<token>/story.mp4: 202 while the video is drawn, then the file, ranges and all."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request, send_file

from .. import http
from ..errors import Gone, NotFound
from ..jobs.queue import enqueue
from ..share import shares, tokens
from ..store.models import Share
from . import files

log = logging.getLogger(__name__)

bp = Blueprint("video", __name__)

RETRY_AFTER_S = 5  # a video takes seconds to draw; a player asking again sooner only adds requests
# As the share images: an hour in caches, then revalidated (a revoked video should not linger).
MAX_AGE = 3600


@bp.after_request
def _cors(response: Response) -> Response:
    if request.path.endswith("/story.mp4"):  # the player fetches it to hand to the share sheet
        response.headers.update(http.PLAYER_API_CORS)
    return response


@bp.get("/s/<token>/story.mp4")
def story_video(token: str) -> Response | tuple[Response, int]:
    try:
        share = shares.live(token)  # 404 forged or unknown, 410 revoked or expired
    except Gone:
        # An expired share's files would wait for the sweep (SHARE_KEEP_ENDED): its video goes now.
        share_id = tokens.loads(token)
        if share_id:
            files.video_path(share_id).unlink(missing_ok=True)
        raise
    status = share.video_status or "pending"
    if status == "off":
        raise NotFound("This story has no video.", details={"video": "off"})
    path = files.video_path(share.id)
    if not path.exists():
        if status == "failed":
            raise NotFound("This story's video could not be made.", details={"video": "failed"})
        # Never queued (made before videos, or when the queue could not take the job), or drawn on
        # another machine or for an older render version: drawn (again) here.
        if share.video_status in (None, "ready"):
            Share.update(video_status="pending").where(Share.id == share.id).execute()
            enqueue("render_video", share.id)
        response = jsonify(video={"url": f"{share.url}/story.mp4", "status": "pending"})
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        response.headers["Cache-Control"] = "no-store"
        return response, 202
    # send_file answers Range requests with 206 and the bytes asked for, If-None-Match with 304.
    response = send_file(path, mimetype="video/mp4", conditional=True, etag=files.tag(share.id), max_age=MAX_AGE,
                         download_name="story.mp4")
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
