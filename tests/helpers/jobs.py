"""Job queue helpers: ``recap worker`` processes started for real (each in a session of its own,
so a test can kill one the way a machine dies), and a throw-away Redis from Debian's package
(``scripts/test.sh`` installs it) on a free loopback port, like the PostgreSQL cluster."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_app.serving import stop_child
from helpers.debian import binary, missing
from helpers.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# ``recap`` as a terminal starts it, Ctrl+C (SIGINT) included: a test run started with SIGINT ignored
# (a background job of a script) would hand that on, and a ``recap run`` stopped with SIGINT would
# ignore it until killed.
RECAP = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from widget_server.cli import main; sys.argv[0] = 'recap'; main()")


def recap_env(instance: Path, **config: object) -> dict[str, str]:
    """The environment of a ``recap`` command on ``instance``, with RECAP_* settings. Python's
    fault handler is on, so a process that ``stop`` finds hung writes its threads' stacks to its log."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "RECAP_INSTANCE_PATH": str(instance), "PYTHONFAULTHANDLER": "1"}
    env.update({f"RECAP_{key}": str(value) for key, value in config.items()})
    return env


def recap(*args: str, env: dict[str, str], log: Path, **options) -> subprocess.Popen:
    """``recap ARGS`` in a new session, its output in ``log``."""
    out = open(log, "ab")
    try:
        return subprocess.Popen([sys.executable, "-c", RECAP, *args], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **options)
    finally:
        out.close()


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Stop a process ``recap`` started: ``sig``, then after ``timeout`` s SIGABRT (its fault handler
    writes each thread's stack to its log; the status says -6) and SIGKILL to its whole session
    (the forked workers too); its exit status."""
    return stop_child(process, timeout, sig, session=True, abort_first=True)



def _redis_binary() -> str | None:
    return binary("redis-server", "/usr/bin/redis-server")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away Redis on a free 127.0.0.1 port, without persistence (bench/ uses it too);
    its URL. Raises FileNotFoundError when redis-server is not installed."""
    binary = _redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (scripts/test.sh installs it)")
    root = tempfile.mkdtemp(prefix="recap-redis-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(os.path.join(root, "log"), "wb") as log:
        process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", root, "--save", "",
                                    "--appendonly", "no", "--protected-mode", "yes"],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    return conn.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        wait_until(answers, 20, "redis-server to answer")
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_child(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url():
    """The session's Redis (``redis_server``); skipped where redis-server is missing, failed in CI."""
    if _redis_binary() is None:
        missing("redis-server")
    with redis_server() as url:
        yield url
