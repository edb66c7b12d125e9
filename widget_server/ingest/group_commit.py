"""Group commit: concurrent ingest requests share one transaction, one writer at a time.

SQLite has one writer. Left to itself, a second process that finds the file locked sleeps and
polls (1, 2, 5 … 100 ms), so two gunicorn workers mostly wait for each other. Instead:

* inside a process, requests queue their rows; the first becomes the leader, writes every
  queued request's rows in one transaction and wakes the others after the commit (each answer
  still comes only after its rows are committed);
* across processes, the leader holds an exclusive ``flock`` on a lock file beside the
  database while it writes, so the next writer wakes the moment the lock is free.

Writers that do not take the lock (another tool on the same file) are still handled by
SQLite's busy timeout; if it expires every request of the group gets the error (429 upstream).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ..store.sqlite_files import FileLock, PerProcess

T = TypeVar("T")

MAX_GROUP_ITEMS = 16  # requests per transaction: bounds the transaction and the leader's wait


class _Waiter(Generic[T]):
    __slots__ = ("item", "done", "lead", "result", "error")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False
        self.result: int = 0
        self.error: BaseException | None = None


class GroupCommitter(Generic[T]):
    """Runs ``write_group(items) -> results`` for whatever callers queued meanwhile."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Waiter[T]] = []
        self._leading = False
        self._lock_files: PerProcess[FileLock] = PerProcess(FileLock)  # a descriptor must not cross a fork

    def submit(self, item: T, write_group: Callable[[list[T]], list[int]], lock_path: str | None) -> int:
        """Queue ``item``; return its result once its group is committed (or raise its error)."""
        waiter = _Waiter(item)
        with self._lock:
            self._pending.append(waiter)
            lead = not self._leading
            self._leading = True
        if not lead:
            waiter.done.wait()
        if lead or waiter.lead:
            self._lead(write_group, lock_path)
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    def _lead(self, write_group: Callable[[list[T]], list[int]], lock_path: str | None) -> None:
        with self._lock:
            group, self._pending = self._pending[:MAX_GROUP_ITEMS], self._pending[MAX_GROUP_ITEMS:]
        try:
            with self._cross_process_lock(lock_path):
                results = write_group([w.item for w in group])
            for waiter, result in zip(group, results, strict=True):
                waiter.result = result
        except BaseException as exc:  # every request of the group learns why, none is answered 200
            for waiter in group:
                waiter.error = exc
        finally:
            with self._lock:
                if self._pending:  # hand the lead to the next queued request
                    self._pending[0].lead = True
                    self._pending[0].done.set()
                else:
                    self._leading = False
            for waiter in group:
                waiter.done.set()

    def _cross_process_lock(self, path: str | None) -> FileLock:
        return FileLock(None) if path is None else self._lock_files(path)


