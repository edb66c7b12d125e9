"""A server of this process on 127.0.0.1, served in a daemon thread: the demo's host page, and
in the tests (tests/helpers/) the app under test and the sites that embed it, so that starting
and stopping one is written once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import HTTPServer
from typing import Any, Self

from werkzeug.serving import make_server

# How often a served thread looks for shutdown(): werkzeug's default (0.5 s) made every stop of
# a server wait half a second.
POLL_INTERVAL = 0.05


class ServedInThread:
    """``server`` (an HTTP server on 127.0.0.1: werkzeug's WSGI server, http.server's) serving in a
    daemon thread of this process once started; ``stop`` shuts it down, closes its socket and
    waits for the thread."""

    def __init__(self, server: HTTPServer, name: str) -> None:
        self._server = server
        self.port = server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL},
                                        name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class WSGIInThread(ServedInThread):
    """A WSGI app under werkzeug's threaded server (a thread each request) on ``port`` (0: a
    free one), served in a daemon thread."""

    def __init__(self, app: Callable[..., Any], port: int = 0, name: str = "wsgi-server") -> None:
        super().__init__(make_server("127.0.0.1", port, app, threaded=True), name)

