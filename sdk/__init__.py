"""Recap's Python SDK: record what users do, without ever slowing down or breaking the app.

    import sdk
    sdk.init("rcp_w_…", host="https://recap.example.com")
    sdk.track(user_id="u1", event="Song Played", properties={"artist": "Björk"})
"""
from .client import (
    DEFAULT_HOST,
    VERSION,
    Client,
    alias,
    default_client,
    flush,
    group,
    identify,
    init,
    page,
    screen,
    shutdown,
    track,
)
from .errors import DeliveryFailed, EventRejected, EventTooLarge, NotDelivered, QueueFull, RecapError, Unreachable

__version__ = VERSION

__all__ = [
    "DEFAULT_HOST", "VERSION", "Client", "alias", "default_client", "flush", "group", "identify", "init",
    "page", "screen", "shutdown", "track",
    "DeliveryFailed", "EventRejected", "EventTooLarge", "NotDelivered", "QueueFull", "RecapError",
    "Unreachable",
]
