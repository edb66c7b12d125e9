"""Runs the widget server for the demo: gunicorn in a child process, on 127.0.0.1."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .serving import free_port, port_is_free, stop_child

log = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """The widget server could not be started."""


# A demo stopped with Ctrl-C should stop at once: a share video being drawn then goes back on the
# queue (for the next run's worker) after this many seconds, not after a production worker's 30.
WORKER_STOP_S = 2
WORKER = "import sys; from widget_server.cli import main; sys.argv[0] = 'recap'; main()"


class WidgetServer:
    """The real widget server under gunicorn (gthread workers), as it runs in production.

    A child process rather than a thread: the generator (SDK encoding) and the server (ingest
    into SQLite) then use both cores instead of sharing one interpreter lock.
    """

    def __init__(self, instance: Path, port: int = 0, workers: int = 2, threads: int = 4) -> None:
        self.instance = instance
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = instance / "server.log"
        self.workers = workers
        self.threads = threads
        self._process: subprocess.Popen[bytes] | None = None
        self._worker: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> WidgetServer:
        if not port_is_free(self.port):
            raise ServerError(f"port {self.port} on 127.0.0.1 is in use; pick another with --port")
        # Only the instance folder: the demo always runs on its own embedded SQLite database.
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECAP_")}
        env["RECAP_INSTANCE_PATH"] = str(self.instance)
        env["RECAP_PUBLIC_BASE_URL"] = self.url  # share links point here, whatever Host a caller sends
        env["RECAP_WEBHOOK_ALLOW_LOCAL"] = "1"  # Soundwave's webhook is the demo's own, on 127.0.0.1
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--worker-class", "gthread", "--threads", str(self.threads),
                   "--preload", "--timeout", "60", "--graceful-timeout", "5",
                   "--error-logfile", str(self.log_path), "widget_server:create_app()"]
        self.instance.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerError(f"the widget server exited at start; see {self.log_path}")
            if self._answers():
                log.info("widget server up at %s (pid %d)", self.url, self._process.pid)
                # The job queue's consumer beside it (share images drawn ahead, the chores), on
                # the instance's SQLite queue: gunicorn's workers serve, this one runs jobs.
                with open(self.instance / "worker.log", "ab") as worker_log:
                    self._worker = subprocess.Popen([sys.executable, "-c", WORKER, "worker"],
                                                    env={**env, "RECAP_WORKER_STOP_TIMEOUT": str(WORKER_STOP_S)},
                                                    stdin=subprocess.DEVNULL, stdout=worker_log,
                                                    stderr=subprocess.STDOUT)
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"the widget server did not answer within {timeout:.0f} s; see {self.log_path}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/v1/viewer-tokens", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer (405 here) means it is serving
        except OSError:
            return False

    def stop(self) -> None:
        """Both stopped together (SIGTERM to each, then wait): the worker puts back what it was
        doing after ``WORKER_STOP_S``, while gunicorn lets its requests finish."""
        children = [c for c in (self._worker, self._process) if c is not None and c.poll() is None]
        self._worker = self._process = None
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            stop_child(child, sig=0)  # (already signalled: wait, then SIGKILL past the timeout)

    def __enter__(self) -> WidgetServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
