"""One long-lived object per process and file: a connection that keeps its page cache, or a
lock file's descriptor.

Such an object must not cross a fork (a forked child would share the parent's SQLite
connection, or its ``flock``), and a process serves one store at a time: tests move on to the
next file, and the object for the old one is closed.
"""
from __future__ import annotations

import os
from typing import Callable, Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=Closable)


class PerProcess(Generic[T]):
    """``holder(path)``: the object ``open_(path)`` made in this process for ``path``."""

    def __init__(self, open_: Callable[[str], T]) -> None:
        self._open = open_
        self._current: tuple[int, str, T] | None = None  # (pid, path, object)

    def __call__(self, path: str) -> T:
        pid = os.getpid()
        if self._current is None or self._current[:2] != (pid, path):
            if self._current is not None and self._current[0] == pid:
                self._current[2].close()
            self._current = (pid, path, self._open(path))
        return self._current[2]
