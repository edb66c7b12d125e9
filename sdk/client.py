"""The public API: ``Client`` (Segment-style calls) and the module-level default client.

A call checks its arguments (a programmer error raises ``TypeError``/``ValueError`` at once),
then appends one tuple and ``time.time()`` to a deque; that is all the caller's thread pays for,
unless it tracks faster than the spool is written (then it waits for the writer: the crash
bound, worker.py). Ids, ISO timestamps and JSON are made in the background by the function
``encoder`` builds.
"""
from __future__ import annotations

import atexit
import datetime as dt
import decimal
import enum
import functools
import json
import json.encoder
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .errors import RecapError
from .queue import EventQueue, MemoryQueue, SpoolQueue, default_spool_path
from .transport import Transport
from .worker import Settings, Worker

log = logging.getLogger(__name__)

VERSION = "0.1.0"
DEFAULT_HOST = "http://127.0.0.1:8000"
MAX_ID = 200  # the server's limit on ids, event names and message ids (widget_server/event_schema.py)

Id = str | int
Properties = Mapping[str, Any]
ErrorHandler = Callable[[RecapError], None]
# One call as the caller's thread queues it: (type, user_id, anonymous_id, name, traits or
# properties, context, timestamp, message_id, previousId or groupId, time.time()).
Call = tuple[str, Id | None, Id | None, str | None, dict[str, Any] | None, Properties | None, dt.datetime | None,
             str | None, Id | None, float]

_live: weakref.WeakSet[Client] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


class Client:
    """Records events for one app; thread-safe, never blocks on the network, never raises
    except for programmer errors."""

    def __init__(self, write_key: str, host: str = DEFAULT_HOST, *, spool: bool = True,
                 spool_path: str | os.PathLike[str] | None = None, batch_size: int = 1000,
                 max_batch_bytes: int = 499 * 1024, max_event_bytes: int = 32 * 1024,
                 flush_interval: float = 0.5, write_interval: float = 0.1, max_queue_size: int = 100_000,
                 max_spool_events: int = 10_000_000, timeout: float = 10.0, exit_timeout: float = 2.0,
                 gzip: bool = True, sync_mode: bool = False, disabled: bool = False, sample_rate: float = 1.0,
                 on_error: ErrorHandler | None = None, context: Properties | None = None,
                 retry_base: float = 0.5, retry_cap: float = 30.0, max_retries: int = 10) -> None:
        if not isinstance(write_key, str) or not write_key:
            raise TypeError("write_key must be a non-empty string")
        if not isinstance(host, str):
            raise TypeError("host must be a string such as 'https://recap.example.com'")
        _positive("max_retries", max_retries, int, allow_zero=True)
        for name, value in (("batch_size", batch_size), ("max_queue_size", max_queue_size),
                            ("max_spool_events", max_spool_events), ("max_batch_bytes", max_batch_bytes),
                            ("max_event_bytes", max_event_bytes)):
            _positive(name, value, int)
        for name, seconds in (("flush_interval", flush_interval), ("write_interval", write_interval),
                              ("timeout", timeout), ("retry_base", retry_base), ("retry_cap", retry_cap)):
            _positive(name, seconds, (int, float))
        if not isinstance(exit_timeout, (int, float)) or exit_timeout < 0:
            raise ValueError("exit_timeout must be a number of seconds >= 0")
        if not isinstance(sample_rate, (int, float)) or not 0.0 <= sample_rate <= 1.0:
            raise ValueError("sample_rate must be between 0 and 1")
        if on_error is not None and not callable(on_error):
            raise TypeError("on_error must be callable")
        if context is not None and not isinstance(context, Mapping):
            raise TypeError("context must be a mapping")

        self.host = host.rstrip("/")
        # RECAP_SDK_DISABLED=1 turns every client off (CI, local runs) without a code change.
        self.disabled = bool(disabled) or os.environ.get("RECAP_SDK_DISABLED", "") in ("1", "true", "yes")
        self.sync_mode = bool(sync_mode)
        self.exit_timeout = float(exit_timeout)
        self.timeout = float(timeout)
        self.sample_rate = float(sample_rate)
        self._on_error = on_error
        self._closed = False
        transport = Transport(self.host, write_key, self.timeout, gzip, f"recap-python/{VERSION}")
        queue = self._open_queue(write_key, spool and not sync_mode, spool_path, max_queue_size, max_spool_events)
        settings = Settings(batch_size=batch_size, max_batch_bytes=max_batch_bytes,
                            max_event_bytes=max_event_bytes, flush_interval=flush_interval,
                            write_interval=write_interval, max_inbox=max_queue_size, retry_base=retry_base,
                            retry_cap=retry_cap, max_retries=max_retries)
        self._worker = Worker(encoder(dict(context or {})), queue, transport, settings, self._report)
        self._inbox = self._worker.inbox
        self._append = self._inbox.append
        self._wake_at = self._worker.wake_at
        if not self.sync_mode:
            self._worker.start()
        _register(self)

    def _open_queue(self, write_key: str, spool: bool, path: str | os.PathLike[str] | None,
                    max_queue_size: int, max_spool_events: int) -> EventQueue:
        if spool:
            where = path if path is not None else default_spool_path(self.host, write_key)
            try:
                return SpoolQueue(where, max_spool_events)
            except Exception as exc:  # sqlite3.Error, an unwritable directory, a file that is no database
                log.warning("recap: cannot open the spool %s (%s); keeping events in memory only", where, exc)
        return MemoryQueue(max_queue_size)

    # --- the calls ---------------------------------------------------------------------------
    def track(self, user_id: Id | None = None, event: str | None = None, properties: Properties | None = None,
              context: Properties | None = None, timestamp: dt.datetime | None = None,
              anonymous_id: Id | None = None, message_id: str | None = None) -> None:
        """Record that a user did something (``event``), with optional properties."""
        _name("event", event, required=True)
        self._enqueue("track", user_id, anonymous_id, event, _copy("properties", properties),
                      context, timestamp, message_id, None)

    def page(self, user_id: Id | None = None, name: str | None = None, properties: Properties | None = None,
             context: Properties | None = None, timestamp: dt.datetime | None = None,
             anonymous_id: Id | None = None, message_id: str | None = None) -> None:
        """Record a page view (web)."""
        _name("name", name)
        self._enqueue("page", user_id, anonymous_id, name, _copy("properties", properties),
                      context, timestamp, message_id, None)

    def screen(self, user_id: Id | None = None, name: str | None = None, properties: Properties | None = None,
               context: Properties | None = None, timestamp: dt.datetime | None = None,
               anonymous_id: Id | None = None, message_id: str | None = None) -> None:
        """Record a screen view (mobile)."""
        _name("name", name)
        self._enqueue("screen", user_id, anonymous_id, name, _copy("properties", properties),
                      context, timestamp, message_id, None)

    def identify(self, user_id: Id | None = None, traits: Properties | None = None,
                 context: Properties | None = None, timestamp: dt.datetime | None = None,
                 anonymous_id: Id | None = None, message_id: str | None = None) -> None:
        """Attach traits to a user (and join an anonymous id to them)."""
        self._enqueue("identify", user_id, anonymous_id, None, _copy("traits", traits),
                      context, timestamp, message_id, None)

    def alias(self, previous_id: Id | None = None, user_id: Id | None = None,
              context: Properties | None = None, timestamp: dt.datetime | None = None,
              message_id: str | None = None) -> None:
        """Say that ``previous_id`` and ``user_id`` are the same person."""
        if previous_id is None or user_id is None:
            raise ValueError("alias needs both previous_id and user_id")
        _id("previous_id", previous_id)
        self._enqueue("alias", user_id, None, None, None, context, timestamp, message_id, previous_id)

    def group(self, user_id: Id | None = None, group_id: Id | None = None, traits: Properties | None = None,
              context: Properties | None = None, timestamp: dt.datetime | None = None,
              anonymous_id: Id | None = None, message_id: str | None = None) -> None:
        """Put a user in a group (account, team) with optional group traits."""
        if group_id is None:
            raise ValueError("group needs a group_id")
        _id("group_id", group_id)
        self._enqueue("group", user_id, anonymous_id, None, _copy("traits", traits),
                      context, timestamp, message_id, group_id)

    def _enqueue(self, kind: str, user_id: Id | None, anonymous_id: Id | None, name: str | None,
                 payload: dict[str, Any] | None, context: Properties | None, timestamp: dt.datetime | None,
                 message_id: str | None, extra: Id | None) -> None:
        if user_id is None and anonymous_id is None:
            raise ValueError(f"{kind} needs a user_id or an anonymous_id")
        if user_id is not None:
            _id("user_id", user_id)
        if anonymous_id is not None:
            _id("anonymous_id", anonymous_id)
        if context is not None and not isinstance(context, Mapping):
            raise TypeError(f"context must be a mapping, not {type(context).__name__}")
        if timestamp is not None and not isinstance(timestamp, dt.datetime):
            raise TypeError(f"timestamp must be a datetime, not {type(timestamp).__name__}")
        if message_id is not None:
            _name("message_id", message_id)
        if self.disabled or self._closed:
            return
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
            self._worker.stats.sampled_out += 1
            return
        inbox, worker, now = self._inbox, self._worker, time.time()
        if len(inbox) >= worker.check_at and worker.behind(now) and not worker.wait_for_writer():
            worker.inbox_full += 1
            return
        self._append((kind, user_id, anonymous_id, name, payload, context and dict(context), timestamp,
                      message_id, extra, now))
        if self.sync_mode:
            try:
                self._worker.run_sync(time.monotonic() + self.timeout)
            except Exception:  # the same promise as the threads: never raise into the app
                log.exception("recap: sending in sync mode failed")
        elif len(inbox) == self._wake_at:
            self._worker.wake()

    # --- lifecycle ---------------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Deliver what is queued; return within ``timeout`` seconds, True if all was delivered."""
        _positive("timeout", timeout, (int, float), allow_zero=True)
        if self._closed:
            return not self._worker.queue.pending()
        return self._worker.flush(float(timeout))

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (default ``exit_timeout``), then stop; later calls are ignored."""
        timeout = self.exit_timeout if timeout is None else timeout
        _positive("timeout", timeout, (int, float), allow_zero=True)
        if self._closed:
            return True
        self._closed = True
        return self._worker.shutdown(float(timeout))

    def stats(self) -> dict[str, int]:
        """Counters: encoded, delivered, batches, retries, and every drop by reason."""
        values = self._worker.stats.as_dict()
        values["queued"] = self._worker.waiting()
        return values

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _report(self, error: RecapError) -> None:
        """Log one delivery problem and hand it to ``on_error``; never raises."""
        log.warning("recap: %s", error.message)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:
                log.exception("recap: the on_error callback failed")


# --- argument checks (programmer errors) ------------------------------------------------------
# An int id is sent as its digits: 1 to MAX_ID characters means -10**(MAX_ID-1) < id < 10**MAX_ID
# (compared, not converted: str() of a huge int is slow, and refused past sys.get_int_max_str_digits).
_INT_ID_LOW, _INT_ID_HIGH = -10 ** (MAX_ID - 1), 10 ** MAX_ID


def _id(field: str, value: object) -> None:
    """The one length rule, the server's (MAX_ID): an id is a string or an int of 1 to MAX_ID
    characters as sent. ``str.__len__`` and ``int.__int__`` read the value itself, which is what
    JSON sends, whatever a subclass overrides."""
    if isinstance(value, str):
        if not 0 < str.__len__(value) <= MAX_ID:
            raise ValueError(f"{field} must be 1 to {MAX_ID} characters")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not _INT_ID_LOW < int.__int__(value) < _INT_ID_HIGH:
            raise ValueError(f"{field} must be 1 to {MAX_ID} characters")
    else:
        raise TypeError(f"{field} must be a string or an int, not {type(value).__name__}")


def _name(field: str, value: object, required: bool = False) -> None:
    """An event name, page or screen name, or message id: a string, under the ids' length rule."""
    if value is None:
        if required:
            raise ValueError(f"{field} is required")
        return
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, not {type(value).__name__}")
    _id(field, value)


def _copy(field: str, value: Properties | None) -> dict[str, Any] | None:
    """A shallow copy, so that the caller may reuse or change its dict after the call."""
    if value is None:
        return None
    if value.__class__ is dict or isinstance(value, Mapping):
        return dict(value) if value else None
    raise TypeError(f"{field} must be a mapping, not {type(value).__name__}")


def _positive(field: str, value: object, kind: type | tuple[type, ...], allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or not isinstance(value, (int, float)):
        raise TypeError(f"{field} must be a number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{field} must be {'>= 0' if allow_zero else '> 0'}")


# --- encoding (runs in the writer thread) -----------------------------------------------------
def _jsonable(value: object) -> object:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def iso_time(timestamp: dt.datetime | None, now: float) -> str:
    """UTC ISO-8601 with milliseconds; a naive datetime is taken as UTC (as the server does)."""
    if timestamp is None:
        whole = int(now)
        return f"{_second(whole)}.{int((now - whole) * 1000):03d}Z"
    if timestamp.tzinfo is not None:
        timestamp = timestamp.astimezone(dt.UTC).replace(tzinfo=None)
    return timestamp.isoformat(timespec="milliseconds") + "Z"


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


def _json_encoder() -> Callable[[object], str]:
    """Compact, UTF-8, no NaN; built once (``json.dumps`` rebuilds its C encoder on every call)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                                default=_jsonable).encode

    # markers=None skips the cycle check; a cycle ends in RecursionError, which the worker reports.
    # Arguments: markers, default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan.
    chunks = make(None, _jsonable, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(chunks(value, 0))


def encoder(default_context: dict[str, Any]) -> Callable[[Call], bytes]:
    """The function that turns a queued tuple into the event's JSON bytes."""
    library = {"library": {"name": "recap-python", "version": VERSION}, **default_context}
    dumps = _json_encoder()
    # The usual case (no per-call context) splices the context in pre-encoded.
    context_tail = (',"context":' + dumps(library) + "}").encode()
    urandom = os.urandom

    def encode(item: Call) -> bytes:
        kind, user_id, anonymous_id, name, payload, context, timestamp, message_id, extra, now = item
        event: dict[str, Any] = {"type": kind, "messageId": message_id or urandom(16).hex(),
                                 "timestamp": iso_time(timestamp, now)}
        if user_id is not None:
            event["userId"] = user_id
        if anonymous_id is not None:
            event["anonymousId"] = anonymous_id
        if kind == "track":
            event["event"] = name
        elif name is not None:
            event["name"] = name
        if payload:
            event["traits" if kind in ("identify", "group") else "properties"] = payload
        if kind == "alias":
            event["previousId"] = extra
        elif kind == "group":
            event["groupId"] = extra
        if context:
            event["context"] = {**library, **context}
            return dumps(event).encode()
        return dumps(event)[:-1].encode() + context_tail

    return encode


# --- process exit -----------------------------------------------------------------------------
def _register(client: Client) -> None:
    global _atexit_registered
    _live.add(client)
    with _atexit_lock:
        if not _atexit_registered:
            atexit.register(_shutdown_all)
            _atexit_registered = True


def _shutdown_all() -> None:
    """At exit: each client flushes for at most its ``exit_timeout``; with a spool nothing is lost."""
    for client in list(_live):
        try:
            client.shutdown()
        except Exception:
            log.exception("recap: shutdown at exit failed")


# --- the module-level default client ----------------------------------------------------------
_default: Client | None = None


def init(write_key: str, host: str = DEFAULT_HOST, **options: Any) -> Client:
    """Create the default client used by ``sdk.track`` and friends (replacing any earlier one)."""
    global _default
    previous, _default = _default, Client(write_key, host, **options)
    if previous is not None:
        previous.shutdown()
    return _default


def default_client() -> Client:
    if _default is None:
        raise RuntimeError("call sdk.init(write_key, host=...) before sdk.track() and friends")
    return _default


def track(*args: Any, **kwargs: Any) -> None:
    default_client().track(*args, **kwargs)


def page(*args: Any, **kwargs: Any) -> None:
    default_client().page(*args, **kwargs)


def screen(*args: Any, **kwargs: Any) -> None:
    default_client().screen(*args, **kwargs)


def identify(*args: Any, **kwargs: Any) -> None:
    default_client().identify(*args, **kwargs)


def alias(*args: Any, **kwargs: Any) -> None:
    default_client().alias(*args, **kwargs)


def group(*args: Any, **kwargs: Any) -> None:
    default_client().group(*args, **kwargs)


def flush(timeout: float = 10.0) -> bool:
    return default_client().flush(timeout)


def shutdown(timeout: float | None = None) -> bool:
    return default_client().shutdown(timeout)
