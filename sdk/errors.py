"""What the SDK reports through ``on_error``: every event it could not deliver, and why.

None of these is ever raised into the app. They are handed to the client's ``on_error``
callback (and logged) from the background thread; each carries how many events it cost.
"""
from __future__ import annotations


class RecapError(Exception):
    """Base of everything the SDK reports; ``count`` is the number of events lost (0 if none)."""

    reason: str = "error"

    def __init__(self, message: str, count: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.count = count


class QueueFull(RecapError):
    """Events were dropped because the in-memory queue or the spool reached its bound."""

    reason = "queue_full"


class EventTooLarge(RecapError):
    """An event was over the server's per-event limit (or not JSON-encodable) and was dropped."""

    reason = "invalid_event"


class EventRejected(RecapError):
    """The server stored a batch but refused one of its events (``field`` names why)."""

    reason = "rejected"

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, count=1)
        self.field = field
        self.code = code


class DeliveryFailed(RecapError):
    """A batch was refused by the server (a 4xx that retrying cannot fix) and was dropped."""

    reason = "refused"

    def __init__(self, message: str, count: int, status: int | None = None) -> None:
        super().__init__(message, count)
        self.status = status


class NotDelivered(RecapError):
    """Events still unsent when the client shut down without an on-disk spool to keep them."""

    reason = "lost_at_exit"


class Unreachable(RecapError):
    """A delivery attempt failed and will be retried; reported so outages are visible (count 0)."""

    reason = "retrying"
