"""Sends one person's events through the SDK with the right ids, time zone and message ids."""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, Protocol

from .people import Person


class Tracker(Protocol):
    """The part of ``sdk.Client`` the generators use."""

    def track(self, user_id: Any = None, event: str | None = None, properties: Any = None,
              context: Any = None, timestamp: datetime | None = None, anonymous_id: Any = None,
              message_id: str | None = None) -> None: ...

    def identify(self, user_id: Any = None, traits: Any = None, context: Any = None,
                 timestamp: datetime | None = None, anonymous_id: Any = None,
                 message_id: str | None = None) -> None: ...

    def alias(self, previous_id: Any = None, user_id: Any = None, context: Any = None,
              timestamp: datetime | None = None, message_id: str | None = None) -> None: ...


class Emitter:
    """One person's view of the client.

    Before the person signs up their events carry only the anonymous id; the sign-up joins the
    two (identify with both ids, or alias). Message ids are a hash of the seed, the person, the
    event and its time, so a second run re-sends the same ids and the server keeps one copy.
    """

    def __init__(self, client: Tracker, person: Person, seed: int) -> None:
        self.client = client
        self.person = person
        # What a device says of itself: its zone and its language (the story's locale).
        self.context = {"timezone": person.timezone, "locale": person.locale}
        self.count = 0
        self._prefix = "demo-" + hashlib.blake2b(f"{seed}:{person.user_id}".encode(), digest_size=8).hexdigest() + "-"

    def at(self, day: date, hour: int, minute: int, second: int = 0) -> datetime:
        """A local wall-clock time in the person's zone (aware, so the SDK sends it as UTC)."""
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=self.person.zone)

    def _message_id(self, kind: str) -> str:
        # A person's events are always generated in the same order from the same seed, so the
        # running count names the same event on every run (and on a later day's run, too).
        return f"{self._prefix}{self.count:x}{kind[0]}"

    def _ids(self, when: datetime) -> dict[str, str]:
        until = self.person.anonymous_until
        if until is not None and when.date() < until:
            return {"anonymous_id": self.person.anonymous_id}
        return {"user_id": self.person.user_id}

    def track(self, event: str, properties: dict[str, Any], when: datetime) -> None:
        self.client.track(event=event, properties=properties, context=self.context, timestamp=when,
                          message_id=self._message_id(event), **self._ids(when))
        self.count += 1

    def sign_up(self, traits: dict[str, Any], when: datetime) -> None:
        """Identify the person; if they were anonymous until now, join the anonymous id to them."""
        person = self.person
        if person.anonymous_until is not None and person.links_by_alias:
            self.client.alias(previous_id=person.anonymous_id, user_id=person.user_id, context=self.context,
                              timestamp=when, message_id=self._message_id("alias"))
            self.client.identify(user_id=person.user_id, traits=traits, context=self.context, timestamp=when,
                                 message_id=self._message_id("identify"))
            self.count += 2
            return
        anonymous = {"anonymous_id": person.anonymous_id} if person.anonymous_until is not None else {}
        self.client.identify(user_id=person.user_id, traits=traits, context=self.context, timestamp=when,
                             message_id=self._message_id("identify"), **anonymous)
        self.count += 1
