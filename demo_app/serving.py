"""Serving on 127.0.0.1: a free port, a server of this process in a daemon thread (the demo's
host page; in the tests (tests/helpers/) the app under test and the sites that embed it), and a
server in a child process stopped (the demo's gunicorn and worker; the tests' gunicorn, workers
and Redis), so that each is written once."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from http.server import HTTPServer
from typing import Any, Self

from werkzeug.serving import make_server

# How often a served thread looks for shutdown(): werkzeug's default (0.5 s) made every stop of
# a server wait half a second.
POLL_INTERVAL = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen there now (connections of a just-stopped one, still in
    TIME_WAIT, do not count: servers set SO_REUSEADDR, as gunicorn and werkzeug do)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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


def stop_child(process: subprocess.Popen[Any], timeout: float = 10, sig: int = signal.SIGTERM,
               session: bool = False, abort_first: bool = False) -> int:
    """Stop a child process: ``sig`` (SIGTERM, a graceful stop), then SIGKILL if it has not
    exited within ``timeout`` s; its exit status. ``session``: the child leads a session of its
    own, and SIGKILL goes to the whole process group (the processes it forked too).
    ``abort_first``: past the timeout, SIGABRT and up to 5 s before the SIGKILL, so that a Python
    child with its fault handler on (PYTHONFAULTHANDLER) writes where each thread was."""

    def kill() -> None:
        if session:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()

    if process.poll() is None:
        try:
            if sig == signal.SIGKILL:
                kill()
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        if abort_first:
            process.send_signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        with contextlib.suppress(ProcessLookupError):  # (a session whose leader died of the abort)
            kill()
        return process.wait(10)
