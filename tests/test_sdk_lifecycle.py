"""The SDK never holds the app up: unreachable servers, bounded flush/shutdown/exit, fork
safety, and an import that loads only the standard library."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

import sdk
from sdk.queue import SpoolQueue


@pytest.fixture
def refusing_url():
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url():
    """A port that accepts connections (the kernel's backlog) but never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def run_python(code: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})


def test_import_sdk_loads_only_the_standard_library():
    result = run_python("""
        import json, sys
        before = set(sys.modules)
        import sdk, sdk.autocapture
        new = sorted(set(sys.modules) - before)
        print(json.dumps([m for m in new if m.split(".")[0] not in sys.stdlib_module_names]))
    """)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["sdk", "sdk.autocapture", "sdk.client", "sdk.errors", "sdk.queue",
                                         "sdk.transport", "sdk.worker"]


@pytest.mark.parametrize("server", ["refusing_url", "silent_url"])
def test_an_unreachable_server_never_holds_the_caller(request, server, tmp_path):
    url = request.getfixturevalue(server)
    client = sdk.Client("rcp_w_x", host=url, spool_path=tmp_path / "spool.sqlite3", timeout=30)
    started = time.monotonic()
    for seq in range(10_000):
        client.track(user_id="u1", event="E", properties={"seq": seq})
    tracking = time.monotonic() - started

    started = time.monotonic()
    assert client.flush(timeout=1) is False
    flushing = time.monotonic() - started

    started = time.monotonic()
    assert client.shutdown(timeout=1) is False
    shutting_down = time.monotonic() - started

    # 10,000 calls: the caller may write the spool itself (back-pressure, at the disk's pace:
    # about 0.1 s on a quiet machine), but never waits on the network (a request can take 30 s).
    assert tracking < 5.0
    assert 0.9 < flushing < 1.5
    assert shutting_down < 1.5
    # Nothing was lost: the spool keeps all of it for the next run.
    assert client.stats()["queued"] == 10_000 and client.stats()["dropped"] == 0


@pytest.mark.parametrize("server", ["refusing_url", "silent_url"])
def test_process_exit_waits_at_most_exit_timeout(request, server, tmp_path):
    url = request.getfixturevalue(server)
    result = run_python(f"""
        import time, sdk
        client = sdk.Client("rcp_w_x", host={url!r}, spool_path={str(tmp_path / 's.sqlite3')!r},
                            exit_timeout=1.0, timeout=30)
        for seq in range(1000):
            client.track(user_id="u1", event="E", properties={{"seq": seq}})
        print(time.monotonic(), flush=True)
    """)
    ended = time.monotonic()
    assert result.returncode == 0, result.stderr
    exit_took = ended - float(result.stdout.strip())
    assert exit_took < 2.0  # the 1 s bound plus interpreter teardown


def test_exit_without_flush_loses_nothing_with_the_spool(live_server, tenant, query, tmp_path):
    spool = tmp_path / "s.sqlite3"
    result = run_python(f"""
        import sdk
        client = sdk.Client({tenant.write_key!r}, host={live_server.url!r}, spool_path={str(spool)!r},
                            exit_timeout=10)
        for seq in range(10_000):
            client.track(user_id="u1", event="Burst", properties={{"seq": seq}})
    """)
    assert result.returncode == 0, result.stderr
    assert query("SELECT COUNT(*), COUNT(DISTINCT json_extract(properties, '$.seq')) FROM event") == [(10_000, 10_000)]


def test_events_from_a_forked_child_arrive(live_server, tenant, query, tmp_path):
    client = sdk.Client(tenant.write_key, host=live_server.url, spool_path=tmp_path / "s.sqlite3",
                        flush_interval=0.05, write_interval=0.01)
    client.track(user_id="parent", event="Before Fork")  # queued, maybe not yet sent: must not double
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker after preload_app
        code = 1
        try:
            for seq in range(50):
                client.track(user_id="child", event="In Child", properties={"seq": seq})
            code = 0 if client.flush(timeout=10) else 2
        finally:
            os._exit(code)
    client.track(user_id="parent", event="After Fork")
    assert client.flush(timeout=10)
    _, status = os.waitpid(pid, 0)
    client.shutdown(timeout=5)
    assert os.waitstatus_to_exitcode(status) == 0
    rows = query("SELECT name, COUNT(*) FROM event GROUP BY name ORDER BY name")
    assert rows == [("After Fork", 1), ("Before Fork", 1), ("In Child", 50)]


def test_forked_child_with_a_memory_queue_delivers_too(live_server, tenant, query):
    client = sdk.Client(tenant.write_key, host=live_server.url, spool=False, flush_interval=0.05)
    client.track(user_id="parent", event="Before Fork")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            client.track(user_id="child", event="In Child")
            code = 0 if client.flush(timeout=10) else 2
        finally:
            os._exit(code)
    assert client.flush(timeout=10)
    _, status = os.waitpid(pid, 0)
    client.shutdown(timeout=5)
    assert os.waitstatus_to_exitcode(status) == 0
    assert query("SELECT name FROM event ORDER BY name") == [("Before Fork",), ("In Child",)]


def test_a_sync_mode_call_is_bounded_by_its_timeout(refusing_url):
    client = sdk.Client("rcp_w_x", host=refusing_url, sync_mode=True, timeout=0.5)
    started = time.monotonic()
    client.track(user_id="u1", event="E")
    took = time.monotonic() - started
    assert client.shutdown(timeout=0.2) is False
    assert took < 1.5
    assert client.stats()["dropped_at_exit"] == 1  # no spool in sync mode: reported, not silent


def test_flush_stats_and_shutdown_keep_their_timeouts_while_another_process_writes_the_spool(
        refusing_url, tmp_path):
    spool = tmp_path / "spool.sqlite3"
    client = sdk.Client("rcp_w_x", host=refusing_url, spool_path=spool, write_interval=0.01)
    other = sqlite3.connect(spool, isolation_level=None)  # another worker's long write transaction
    other.execute("BEGIN IMMEDIATE")
    client.track(user_id="u1", event="E")
    deadline = time.monotonic() + 5
    while not client._worker._drain_lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the writer waits on SQLite's 10 s busy timeout

    started = time.monotonic()
    assert client.flush(timeout=0.2) is False
    assert client.stats()["queued"] == 1
    assert client.shutdown(timeout=1) is False
    assert time.monotonic() - started < 4  # not the 10 s, or more, that SQLite may wait

    other.execute("COMMIT")  # the writer gets in: nothing was lost
    other.close()
    deadline = time.monotonic() + 15
    while SpoolQueue(spool, 100).pending() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert SpoolQueue(spool, 100).pending() == 1
