"""The record a share freezes when it is made (``Share.card``): its page and images are drawn from
it, never from the user's events again."""
from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from ..engine.story_shape import Card, Frame

# The frames a share's video draws (video/): a gif or a video frame plays media the server never
# fetches, and the card frame is the card the video ends on.
VIDEO_FRAME_KINDS = ("text", "stat", "list", "chart", "image")


class SharedApp(TypedDict):
    name: str
    deep_link_scheme: str | None
    share_base_url: str | None


class VideoSettings(TypedDict):
    enabled: bool
    soundtrack: str | None  # an Upload id (format "aac")


class FrozenShare(TypedDict):
    """What a share shows, frozen when it is made (``Share.card``): its page and images are drawn
    from this, never from the user's events again."""

    card: Card
    story_title: str
    period: str  # the period's label
    app: SharedApp
    caption: str | None
    locale: NotRequired[str]  # the story's (older shares: none, so English)
    direction: NotRequired[Literal["ltr", "rtl"]]  # how its texts run: a right-to-left card is mirrored
    qr: NotRequired[list[str]]  # the link's QR modules (qr.pack), added as the share is stored
    frames: NotRequired[list[Frame]]  # the frames its video shows (kept_frames); older shares have none
    video: NotRequired[VideoSettings]  # the template's, when the share was made (older shares: on, silent)


def kept_frames(frames: list[Frame]) -> list[Frame]:
    """The story's frames a share keeps for its video, without their buttons (a video has nothing
    to tap, and a button's link may name more than the frame shows)."""
    return [{**frame, "buttons": []} for frame in frames if frame.get("kind") in VIDEO_FRAME_KINDS]
