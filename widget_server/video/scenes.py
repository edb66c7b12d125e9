"""The scene plan of a share's video: one scene per frame the share froze, then the card.

Scenes last as long as their frames do in the player, all scaled down together so that the
video stays under MAX_SECONDS; the card, with its QR code, is held CARD_SECONDS at the end,
long enough to point a phone at it. A story with more frames than fit at SCENE_MIN_SECONDS
each keeps its first ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.story_shape import Frame
from ..share.frozen import FrozenShare, kept_frames

FPS = 30
MAX_SECONDS = 29.0  # the whole video, under the 30 s a story on Instagram or TikTok plays in one go
CARD_SECONDS = 5.0
SCENE_MIN_SECONDS = 2.0  # long enough for the entrance, the count-up and a moment to read
DEFAULT_FRAME_MS = 6000  # a frame without a duration, as the player plays it (js/player/clock.js)
TRANSITION_FRAMES = 9  # 0.3 s crossfade into each scene


@dataclass(frozen=True)
class Scene:
    """One scene: which frame (None for the card), from which video frame, for how many."""

    frame: Frame | None
    start: int
    count: int

    @property
    def kind(self) -> str:
        return "card" if self.frame is None else str(self.frame.get("kind"))


def plan(frozen: FrozenShare | dict[str, Any]) -> list[Scene]:
    """The scenes of the video of a frozen share (shares from before videos: the card alone)."""
    frames = kept_frames(list(frozen.get("frames") or []))
    budget = MAX_SECONDS - CARD_SECONDS
    frames = frames[:int(budget // SCENE_MIN_SECONDS)]
    wanted = [_seconds(frame) for frame in frames]
    scale = min(1.0, budget / sum(wanted)) if wanted else 1.0
    lengths = [max(SCENE_MIN_SECONDS, seconds * scale) for seconds in wanted]
    while sum(lengths) > budget:  # the minimum lifted some: take the excess from the longest
        longest = lengths.index(max(lengths))
        lengths[longest] = max(SCENE_MIN_SECONDS, lengths[longest] - (sum(lengths) - budget))
    scenes: list[Scene] = []
    start = 0
    for frame, seconds in [*zip(frames, lengths, strict=True), (None, CARD_SECONDS)]:
        count = int(seconds * FPS)
        scenes.append(Scene(frame, start, count))
        start += count
    return scenes


def total_frames(scenes: list[Scene]) -> int:
    return scenes[-1].start + scenes[-1].count if scenes else 0


def _seconds(frame: Frame) -> float:
    ms = frame.get("duration_ms")
    return (ms if isinstance(ms, int) and ms > 0 else DEFAULT_FRAME_MS) / 1000
