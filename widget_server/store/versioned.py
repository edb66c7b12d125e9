"""Definitions kept as numbered versions, the latest acting: what triggers and audiences share.

A head row per definition holds the latest number (``latest``, ``updated_at``); each save adds a
version row (``version``, ``format``, ``source``, ``key_id``) under the write lock, so two saves
at once get two numbers. Templates keep their own store (engine/template_store.py): they have
drafts and a published version besides.
"""
from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import reduce
from typing import Any, Generic, TypeVar

from peewee import Expression, IntegrityError, Model

from .db import url, write_transaction
from .models import now_ms

T = TypeVar("T")


class Parsed(Generic[T]):
    """Parsed versions, by database, app, id and number: a version never changes, so a process
    keeps the ``size`` it read last and parses each once (``load`` when it has not)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._held: OrderedDict[tuple[Hashable, ...], T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, app_id: int, definition_id: str, number: int, load: Callable[[], T]) -> T:
        key = (url(), app_id, definition_id, number)
        with self._lock:
            hit = self._held.get(key)
        if hit is None:
            hit = load()
            with self._lock:
                self._held[key] = hit
                while len(self._held) > self.size:
                    self._held.popitem(last=False)
        return hit


def _where(model: type[Model], key: dict[str, Any]) -> Expression:
    where: Expression = reduce(operator.and_, [getattr(model, name) == value for name, value in key.items()])
    return where


def save(head: type[Model], versions: type[Model], key: dict[str, Any], text: str, fmt: str,
         key_id: int | None) -> int:
    """Add ``text`` as the next version of the definition ``key`` names; its number."""
    where = _where(head, key)
    for attempt in range(2):
        try:
            with write_transaction():
                if not head.select().where(where).exists():
                    head.create(**key)
                # An UPDATE first: on PostgreSQL it holds the row, so a second save waits for this one.
                head.update(latest=head.latest + 1, updated_at=now_ms()).where(where).execute()  # type: ignore[attr-defined]
                number: int = head.get(where).latest  # type: ignore[attr-defined]
                versions.create(**key, version=number, format=fmt, source=text, key_id=key_id)
            return number
        except IntegrityError:  # another process made the head row meanwhile
            if attempt:
                raise
    raise AssertionError("unreachable")


def latest(head: type[Model], key: dict[str, Any]) -> int | None:
    row = head.select(head.latest).where(_where(head, key)).first()  # type: ignore[attr-defined]
    return row.latest if row else None


def version_row(versions: type[Model], key: dict[str, Any], number: int) -> Any:
    """The version's row, or None."""
    return versions.get_or_none(_where(versions, key) & (versions.version == number))  # type: ignore[attr-defined]


def listing(versions: type[Model], key: dict[str, Any]) -> list[dict[str, Any]]:
    """Every version, oldest first: version, format, created_at, key_id."""
    v: Any = versions
    rows = (v.select(v.version, v.format, v.created_at, v.key_id).where(_where(versions, key)).order_by(v.version))
    return [{"version": r.version, "format": r.format, "created_at": r.created_at, "key_id": r.key_id} for r in rows]
