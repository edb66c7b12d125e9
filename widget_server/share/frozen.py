"""The record a share freezes when it is made (``Share.card``): its page and images are drawn from
it, never from the user's events again."""
from __future__ import annotations

from typing import NotRequired, TypedDict

from ..engine.story_shape import Card


class SharedApp(TypedDict):
    name: str
    deep_link_scheme: str | None
    share_base_url: str | None


class FrozenShare(TypedDict):
    """What a share shows, frozen when it is made (``Share.card``): its page and images are drawn
    from this, never from the user's events again."""

    card: Card
    story_title: str
    period: str  # the period's label
    app: SharedApp
    caption: str | None
    qr: NotRequired[list[str]]  # the link's QR modules (qr.pack), added as the share is stored
