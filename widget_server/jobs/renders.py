"""Share images drawn on the queue as soon as a share is made, so the first viewer (often a chat
app's link preview, with a short timeout) finds them on disk."""
from __future__ import annotations

from ..errors import Gone
from ..share import images
from ..store.models import Share
from .queue import SOMEONE_WAITS, job


@job("render_share", priority=SOMEONE_WAITS)
def render_share(share_id: str) -> int:
    """Render the share's images not yet cached; how many were drawn (none once it is gone)."""
    share = Share.get_or_none(Share.id == share_id)
    if share is None:  # deleted or erased since: nothing to draw
        return 0
    drawn = 0
    for kind in images.KINDS:
        try:
            _, took = images.cached_file(share_id, kind, lambda: share)
        except Gone:  # revoked while it was drawn
            return drawn
        drawn += took is not None
    return drawn
