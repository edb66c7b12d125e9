"""Tagless capture: every page a browser navigates to as a page event, and uncaught exceptions
as events.

    app.wsgi_app = WSGIMiddleware(app.wsgi_app, client, user_resolver=...)   # Flask
    application = WSGIMiddleware(get_wsgi_application(), client)             # Django, any WSGI app

The event is recorded when the server closes the response, so its status and duration are
final, and stamped with the moment the request arrived (a page view happens when it is asked
for; requests that overlap keep the order they came in). Everything here runs inside
try/except: a capture problem is logged, never raised.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import string
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from .client import MAX_ID, Client, Id

log = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
UserResolver = Callable[[Environ], "tuple[Id | None, Id | None]"]
RouteResolver = Callable[[Environ], "str | None"]

HEALTH_PATHS = frozenset({"/health", "/healthz", "/health/", "/ready", "/readyz", "/livez", "/ping",
                          "/metrics", "/favicon.ico", "/robots.txt"})
STATIC_PREFIXES = ("/static/", "/assets/", "/media/")
STATIC_SUFFIXES = (".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp",
                   ".avif", ".woff", ".woff2", ".ttf", ".otf", ".mp4", ".webm", ".mp3", ".txt", ".xml")
MAX_TEXT = 500  # longest user agent, referrer or exception message kept
# The cookie recap.js keeps the browser's anonymous id in (docs/SDK.md, "The recap_aid cookie").
ANONYMOUS_ID_COOKIE = "recap_aid"
_URL_SAFE = frozenset(string.ascii_letters + string.digits + "-._~")
NAVIGATION_DESTINATIONS = frozenset({"document", "iframe", "frame"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class WSGIMiddleware:
    """Records each page view (by default: each document navigation, ``is_navigation``) as a
    ``page`` (or ``screen``) event: path, route, method, status, duration, referrer, user agent."""

    def __init__(self, app: WSGIApp, client: Client, *, user_resolver: UserResolver | None = None,
                 route_resolver: RouteResolver | None = None, event_type: str = "page",
                 exclude_paths: Iterable[str] = HEALTH_PATHS, exclude_prefixes: Iterable[str] = STATIC_PREFIXES,
                 exclude_suffixes: Iterable[str] = STATIC_SUFFIXES,
                 exclude: Callable[[Environ], bool] | None = None,
                 is_view: Callable[[Environ], bool] | None = None, capture_exceptions: bool = False) -> None:
        if not callable(app):
            raise TypeError("app must be a WSGI callable")
        if not isinstance(client, Client):
            raise TypeError("client must be an sdk.Client")
        if event_type not in ("page", "screen"):
            raise ValueError("event_type must be 'page' or 'screen'")
        for name, value in (("user_resolver", user_resolver), ("route_resolver", route_resolver),
                            ("exclude", exclude), ("is_view", is_view)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable")
        self.app = app
        self.client = client
        self.user_resolver = user_resolver or default_user
        self.route_resolver = route_resolver or default_route
        self.event_type = event_type
        self.exclude_paths = frozenset(exclude_paths)
        self.exclude_prefixes = tuple(exclude_prefixes)
        self.exclude_suffixes = tuple(s.lower() for s in exclude_suffixes)
        self.exclude = exclude
        self.is_view = is_view or is_navigation
        self.capture_exceptions = capture_exceptions

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            skip = self._excluded(environ)
        except Exception:
            log.exception("recap: the exclude callable failed")
            skip = True
        if skip:
            return self.app(environ, start_response)
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 0, "arrived": dt.datetime.now(dt.UTC)}

        def recording_start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # Read route and user now: Flask clears environ["werkzeug.request"] when the request
            # context ends, which is before the response is closed.
            self._observe(environ, seen, line)
            if exc_info is None:
                return start_response(line, headers)
            return start_response(line, headers, exc_info)

        try:
            result = self.app(environ, recording_start_response)
        except BaseException as exc:
            seen["status"] = 500
            self._record(environ, seen, started, exc)
            raise
        return _ClosingIterable(result, lambda: self._record(environ, seen, started, None))

    def _observe(self, environ: Environ, seen: dict[str, Any], line: str) -> None:
        try:
            seen["status"] = int(line.split(" ", 1)[0])
        except ValueError:
            pass
        seen["route"] = self._resolve(self.route_resolver, environ, (None, None))
        seen["user"] = self._resolve(self.user_resolver, environ, (None, None))

    @staticmethod
    def _resolve(resolver: Callable[[Environ], Any], environ: Environ, fallback: Any) -> Any:
        """A failing resolver costs the event its user or route, never the event or the request."""
        try:
            return resolver(environ) or fallback
        except Exception:
            log.exception("recap: %s failed; recording the request without it",
                          getattr(resolver, "__name__", "a resolver"))
            return fallback

    def _excluded(self, environ: Environ) -> bool:
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD") in ("OPTIONS", "HEAD") or path in self.exclude_paths:
            return True
        if path.startswith(self.exclude_prefixes) or path.lower().endswith(self.exclude_suffixes):
            return True
        return not self.is_view(environ) or bool(self.exclude and self.exclude(environ))

    def _record(self, environ: Environ, seen: dict[str, Any], started: float, exc: BaseException | None) -> None:
        try:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            user_id, anonymous_id = seen.get("user") or self._resolve(self.user_resolver, environ, (None, None))
            if user_id is None and anonymous_id is None:
                anonymous_id = cookieless_id(environ)
            route, endpoint = seen.get("route") or self._resolve(self.route_resolver, environ, (None, None))
            path = (environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or "/")
            properties = {"path": path, "route": route, "endpoint": endpoint,
                          "method": environ.get("REQUEST_METHOD"), "status": seen["status"],
                          "duration_ms": duration_ms, "referrer": _without_query(environ.get("HTTP_REFERER")),
                          "user_agent": (environ.get("HTTP_USER_AGENT") or "")[:MAX_TEXT] or None}
            properties = {k: v for k, v in properties.items() if v is not None}
            record = self.client.screen if self.event_type == "screen" else self.client.page
            record(user_id=user_id, anonymous_id=anonymous_id, name=(route or path)[:MAX_ID], properties=properties,
                   timestamp=seen["arrived"])
            if exc is not None and self.capture_exceptions and isinstance(exc, Exception):
                track_exception(self.client, exc, user_id=user_id, anonymous_id=anonymous_id,
                                properties={"path": path, "route": route, "method": properties["method"]})
        except Exception:
            log.exception("recap: could not record a request")


class _ClosingIterable:
    """Passes the response through and records the request when the server closes it."""

    def __init__(self, result: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._result = result
        self._on_close = on_close
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            if not self._closed:
                self._closed = True
                self._on_close()


# --- which requests are page views ------------------------------------------------------------
def is_navigation(environ: Environ) -> bool:
    """True if the browser is loading a document to show, which is what a page view is; False
    for fetch()/XHR calls to the app's API, subresources, prefetches and non-browser clients.

    * ``Sec-Fetch-Mode`` (every current browser) decides when present: a navigation
      (``navigate``) whose ``Sec-Fetch-Dest`` is ``document``, ``iframe`` or ``frame``.
    * Without it (older browsers, proxies that drop it): an ``X-Requested-With`` header (jQuery,
      axios and most XHR wrappers) is never a view; otherwise the request must list
      ``text/html`` or ``application/xhtml+xml`` in ``Accept`` with q > 0, which browsers do for
      navigations and fetch()/XHR do not by default (they send ``*/*``).
    * A prefetch or prerender (``Sec-Purpose``/``Purpose: prefetch``, ``X-Moz: prefetch``) is
      not a view: the user may never see the page.
    """
    purpose = " ".join(environ.get(key) or "" for key in ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_MOZ"))
    if "prefetch" in purpose.lower():
        return False
    mode = environ.get("HTTP_SEC_FETCH_MODE")
    if mode is not None:
        destination = environ.get("HTTP_SEC_FETCH_DEST") or "document"
        return mode.strip().lower() == "navigate" and destination.strip().lower() in NAVIGATION_DESTINATIONS
    if environ.get("HTTP_X_REQUESTED_WITH"):
        return False
    return _accepts_html(environ.get("HTTP_ACCEPT") or "")


def _accepts_html(accept: str) -> bool:
    for media_range in accept.split(","):
        media, *parameters = (piece.strip().lower() for piece in media_range.split(";"))
        if media in HTML_TYPES:
            return _quality(parameters) > 0
    return False


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0  # a malformed weight: do not guess
    return 1.0


# --- finding the route and the user -----------------------------------------------------------
def default_route(environ: Environ) -> tuple[str | None, str | None]:
    """(route, endpoint): an app's own ``recap.route`` key, else Flask/werkzeug's matched rule."""
    route = environ.get("recap.route")
    if isinstance(route, str):
        return route, environ.get("recap.endpoint")
    request = environ.get("werkzeug.request")  # Flask and werkzeug keep their request object here
    rule = getattr(request, "url_rule", None)
    if rule is not None:
        return getattr(rule, "rule", None), getattr(rule, "endpoint", None)
    return None, None


def default_user(environ: Environ) -> tuple[Id | None, Id | None]:
    """``REMOTE_USER`` (set by the server's authentication) or an app-set ``recap.user_id``, and the
    anonymous id recap.js stores in the ``recap_aid`` cookie."""
    user = environ.get("recap.user_id") or environ.get("REMOTE_USER") or None
    return user, environ.get("recap.anonymous_id") or anonymous_id_cookie(environ)


def from_headers(user_header: str | None = "X-User-Id",
                 anonymous_header: str | None = "X-Anonymous-Id") -> UserResolver:
    """Take the ids from request headers; only behind a proxy that sets them (clients can forge them)."""
    def key(name: str | None) -> str | None:
        return None if name is None else "HTTP_" + name.upper().replace("-", "_")

    user_key, anonymous_key = key(user_header), key(anonymous_header)

    def resolve(environ: Environ) -> tuple[Id | None, Id | None]:
        user = environ.get(user_key) if user_key else None
        return user or None, (environ.get(anonymous_key) if anonymous_key else None) or None

    return resolve


def from_flask_session(flask_app: Any, user_key: str = "user_id") -> UserResolver:
    """Read the user id from Flask's signed session cookie (without importing Flask)."""
    def resolve(environ: Environ) -> tuple[Id | None, Id | None]:
        request = environ.get("werkzeug.request")
        session = flask_app.session_interface.open_session(flask_app, request) if request else None
        user = session.get(user_key) if session else None
        return user, None if user else default_user(environ)[1]

    return resolve


def cookieless_id(environ: Environ) -> str:
    """An anonymous id from client address and user agent, salted per process: no cookie, and
    no way back to the address."""
    seen = f"{_SALT}|{environ.get('REMOTE_ADDR', '')}|{environ.get('HTTP_USER_AGENT', '')}"
    return "anon-" + hashlib.sha256(seen.encode()).hexdigest()[:24]


_SALT = os.urandom(16).hex()


def anonymous_id_cookie(environ: Environ) -> str | None:
    """The anonymous id from the ``recap_aid`` cookie as recap.js writes it: the value itself,
    1 to MAX_ID URL-safe characters (letters, digits, ``-._~``), no quoting or encoding. The first
    such ``recap_aid`` in the header wins; a malformed or oversized value counts as no cookie."""
    for part in (environ.get("HTTP_COOKIE") or "").split(";"):
        name, equals, value = part.strip().partition("=")
        if name == ANONYMOUS_ID_COOKIE and equals and 0 < len(value) <= MAX_ID and _URL_SAFE.issuperset(value):
            return value
    return None


def _without_query(url: str | None) -> str | None:
    """Referrers keep scheme, host and path: query strings often carry tokens or emails."""
    if not url:
        return None
    return url.split("?", 1)[0].split("#", 1)[0][:MAX_TEXT]


# --- exceptions -------------------------------------------------------------------------------
def track_exception(client: Client, exc: BaseException, *, user_id: Id | None = None,
                    anonymous_id: Id | None = None, properties: dict[str, Any] | None = None,
                    handled: bool = True) -> None:
    """Record ``exc`` as a track "Exception" event (type, message, where it was raised)."""
    if user_id is None and anonymous_id is None:
        anonymous_id = f"host:{socket.gethostname()}"
    frames = traceback.extract_tb(exc.__traceback__)[-10:] if exc.__traceback__ else []
    details = {"type": f"{type(exc).__module__}.{type(exc).__qualname__}",
               "message": str(exc)[:MAX_TEXT], "handled": handled,
               "frames": [f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in frames],
               **(properties or {})}
    client.track(user_id=user_id, anonymous_id=anonymous_id, event="Exception", properties=details)


def capture_exceptions(client: Client, *, user_id: Id | None = None,
                       anonymous_id: Id | None = None) -> Callable[[], None]:
    """Record uncaught exceptions (main thread and other threads); returns a function that undoes it."""
    previous_sys, previous_thread = sys.excepthook, threading.excepthook

    def on_exception(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        _safely(client, exc, user_id, anonymous_id)
        previous_sys(kind, exc, tb)

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            thread = args.thread.name if args.thread is not None else None
            _safely(client, args.exc_value, user_id, anonymous_id, {"thread": thread})
        previous_thread(args)

    sys.excepthook, threading.excepthook = on_exception, on_thread_exception

    def uninstall() -> None:
        sys.excepthook, threading.excepthook = previous_sys, previous_thread

    return uninstall


def _safely(client: Client, exc: BaseException, user_id: Id | None, anonymous_id: Id | None,
            properties: dict[str, Any] | None = None) -> None:
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return
    try:
        track_exception(client, exc, user_id=user_id, anonymous_id=anonymous_id, properties=properties,
                        handled=False)
    except Exception:
        log.exception("recap: could not record an exception")
