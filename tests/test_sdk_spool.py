"""The on-disk spool: events survive an outage, SIGKILL and restart, and are stored exactly once."""
from __future__ import annotations

import inspect
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

import sdk
from demo_app.serving import free_port
from helpers.server import LiveServer
from helpers.spool_kill import kill_at_full_speed
from sdk.queue import SpoolQueue, default_spool_path

# Writes every 100 ms (the default ``write_interval``), then tracks the range, says so, and
# idles until it is killed.
PRODUCER = textwrap.dedent("""
    import sys, time, sdk
    key, url, spool, first, last, linger = sys.argv[1:7]
    client = sdk.Client(key, host=url, spool_path=spool, batch_size=200, flush_interval=0.05,
                        retry_base=0.05, retry_cap=0.5)
    for seq in range(int(first), int(last)):
        client.track(user_id=f"u{seq % 50}", event="Song Played", properties={"seq": seq})
    print("tracked", flush=True)
    if linger == "forever":
        time.sleep(600)
    client.shutdown(timeout=60)
""")


WRITE_INTERVAL = inspect.signature(sdk.Client).parameters["write_interval"].default


def produce(key: str, url: str, spool, first: int, last: int, linger: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PRODUCER, key, url, str(spool), str(first), str(last), linger],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after_tracking(process: subprocess.Popen, grace: float) -> None:
    """SIGKILL ``grace`` seconds after the process said it tracked everything."""
    assert process.stdout.readline().strip() == "tracked", process.stderr.read()
    time.sleep(grace)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stored(query) -> tuple[int, int]:
    return query("SELECT COUNT(*), COUNT(DISTINCT json_extract(properties, '$.seq')) FROM event")[0]


def test_outage_kill_and_restart_store_all_10000_events_exactly_once(app, tenant, query, tmp_path):
    spool = tmp_path / "spool.sqlite3"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    # 1. The server is down; the producer tracks 0-3999 and is killed 0.3 s later (the guarantee
    #    covers everything tracked more than write_interval = 0.1 s before the kill).
    kill_after_tracking(produce(tenant.write_key, url, spool, 0, 4000, "forever"), grace=0.3)
    assert stored(query) == (0, 0)

    # 2. The server comes up on the same port. A second process tracks 4000-6999 and is killed
    #    while it is still delivering: some batches may have been stored without their answer.
    server = LiveServer(app, port=port).start()
    try:
        kill_after_tracking(produce(tenant.write_key, url, spool, 4000, 7000, "forever"), grace=0.3)
        count, distinct = stored(query)
        assert count == distinct  # never a duplicate, even mid-way

        # 3. A third process tracks the rest and exits normally, delivering everything spooled.
        last = produce(tenant.write_key, url, spool, 7000, 10_000, "exit")
        assert last.wait(timeout=120) == 0, last.stderr.read()
    finally:
        server.stop()
    assert stored(query) == (10_000, 10_000)
    assert query("SELECT MIN(json_extract(properties, '$.seq')), MAX(json_extract(properties, '$.seq')) "
                 "FROM event") == [(0, 9999)]
    assert SpoolQueue(spool, 100).pending() == 0


@pytest.mark.alone
def test_a_sigkill_at_full_speed_loses_nothing_tracked_before_the_last_write_interval(tmp_path):
    # The bound holds while the spool's writer gets the CPU it needs: a writer starved for a whole
    # write_interval counts as stalled and callers stop waiting for it (by design: a stuck disk must
    # not hold the app). Beside a second test worker on two cores it was starved that long and
    # 18,225 events that had returned 476 ms before the kill were lost: so it runs alone.
    killed = kill_at_full_speed(tmp_path / "spool.sqlite3", tmp_path / "returned", after=1.5)
    killed_at, returned, spooled = killed.killed_at, killed.returned, killed.spooled
    # Every call that returned more than write_interval before the kill is on disk.
    due = max(seq for seq, at in returned if at < killed_at - WRITE_INTERVAL)
    lost = sorted(set(range(due + 1)) - spooled)
    if lost:
        oldest = killed_at - next(at for seq, at in returned if seq >= lost[0])
        raise AssertionError(f"{len(lost)} of {due + 1} lost; the oldest had returned {oldest * 1000:.0f} ms "
                             f"before the kill")


def test_events_spooled_in_an_outage_are_sent_by_the_next_run(app, tenant, query, tmp_path):
    spool = tmp_path / "spool.sqlite3"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = sdk.Client(tenant.write_key, host=url, spool_path=spool, flush_interval=0.05)
    for seq in range(500):
        first.track(user_id="u1", event="E", properties={"seq": seq})
    assert first.shutdown(timeout=0.5) is False
    server = LiveServer(app, port=port).start()
    try:
        second = sdk.Client(tenant.write_key, host=url, spool_path=spool, flush_interval=0.05)
        second.track(user_id="u1", event="E", properties={"seq": 500})
        assert second.flush(timeout=10)
        second.shutdown(timeout=1)
    finally:
        server.stop()
    assert stored(query) == (501, 501)


EXIT_AT_ONCE = textwrap.dedent("""
    import sys, sdk
    url, spool, count = sys.argv[1:4]
    client = sdk.Client("rcp_w_x", host=url, spool_path=spool)
    for seq in range(int(count)):
        client.track(user_id=f"u{seq % 50}", event="Song Played", properties={"seq": seq})
    client.shutdown(timeout=0)
""")


def test_a_shutdown_without_time_to_deliver_leaves_everything_in_the_spool(tmp_path):
    spool = tmp_path / "spool.sqlite3"
    done = subprocess.run([sys.executable, "-c", EXIT_AT_ONCE, f"http://127.0.0.1:{free_port()}", str(spool),
                           "20000"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert SpoolQueue(spool, 10**6).pending() == 20_000


def test_a_fresh_processs_flush_waits_for_what_the_spool_holds(app, tenant, query, tmp_path):
    spool = tmp_path / "spool.sqlite3"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    encode = sdk.client.encoder({})  # what an earlier process wrote and could not deliver
    SpoolQueue(spool, 10**6).put([encode(("track", f"u{seq % 50}", None, "Song Played", {"seq": seq}, None,
                                          None, None, None, time.time())) for seq in range(20_000)])

    client = sdk.Client(tenant.write_key, host=url, spool_path=spool)
    started = time.monotonic()
    assert client.flush(timeout=1) is False  # the server is still down: not delivered, and says so
    assert time.monotonic() - started >= 0.9
    server = LiveServer(app, port=port).start()
    try:
        assert client.flush(timeout=60) is True
        assert stored(query) == (20_000, 20_000)  # True means delivered, the moment it returns
        client.shutdown(timeout=1)
    finally:
        server.stop()


def test_memory_stays_bounded_while_the_server_is_down(tmp_path):
    client = sdk.Client("rcp_w_x", host=f"http://127.0.0.1:{free_port()}", spool_path=tmp_path / "s.sqlite3",
                        write_interval=0.01)
    for seq in range(30_000):
        client.track(user_id="u1", event="E", properties={"seq": seq})
    deadline = time.monotonic() + 20
    while client._inbox and time.monotonic() < deadline:  # the writer empties the caller's deque
        time.sleep(0.05)
    left_in_memory = len(client._inbox)
    stats = client.stats()
    client.shutdown(timeout=0)
    assert left_in_memory == 0
    assert stats["queued"] == 30_000 and stats["dropped"] == 0


@pytest.mark.alone
def test_an_app_faster_than_the_writer_is_slowed_down_not_dropped(tmp_path):
    # A writer that writes nothing for a whole write_interval counts as stalled, and callers then
    # stop waiting for it (events wait in memory, past max_queue_size they are dropped): with the
    # default 0.1 s, a writer starved of CPU beside another test worker was taken for a stall and
    # ~40 events were dropped. The back-pressure under test does not depend on the interval
    # (callers still wait once the backlog is behind; without that wait 17,836 of the 20,000 are
    # dropped), so the writer gets a second, and the test runs alone (scripts/test.sh's second
    # part): what it shows is a caller held back, not a disk and a CPU that answer within 100 ms.
    client = sdk.Client("rcp_w_x", host=f"http://127.0.0.1:{free_port()}", spool_path=tmp_path / "s.sqlite3",
                        max_queue_size=500, write_interval=1.0)
    for seq in range(20_000):  # far faster than the writer spools, with room for only 500
        client.track(user_id="u1", event="E", properties={"seq": seq})
    client.flush(timeout=1.0)
    stats = client.stats()
    client.shutdown(timeout=0)
    assert stats["dropped"] == 0 and stats["queued"] == 20_000


def test_a_full_spool_drops_the_newest_and_reports_it(tmp_path):
    errors: list = []
    client = sdk.Client("rcp_w_x", host=f"http://127.0.0.1:{free_port()}", spool_path=tmp_path / "s.sqlite3",
                        max_spool_events=100, on_error=errors.append)
    for seq in range(150):
        client.track(user_id="u1", event="E", properties={"seq": seq})
    deadline = time.monotonic() + 10
    while client.stats()["dropped_queue_full"] < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    client.shutdown(timeout=0)
    assert client.stats()["dropped_queue_full"] == 50
    assert sum(e.count for e in errors if isinstance(e, sdk.QueueFull)) == 50


def test_a_batch_held_back_does_not_make_a_shared_spool_look_full(tmp_path):
    spool = SpoolQueue(tmp_path / "s.sqlite3", max_events=100)
    spool.put([b'{"n":0}'])
    assert len(spool.claim(1, 10_000)) == 1  # another worker keeps retrying it: the lowest id stays
    for _ in range(5):  # meanwhile 250 events come and are delivered
        spool.put([b"{}"] * 50)
        spool.ack(spool.claim(100, 1_000_000))
    assert spool.pending() == 1
    assert spool.put([b"{}"] * 50) == 0
    assert spool.put([b"{}"] * 50) == 1  # 51 held: room for exactly 49 more
    assert spool.pending() == 100


def test_a_spool_written_by_an_older_version_is_counted(tmp_path):
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL,"
                    " claimed_until REAL NOT NULL DEFAULT 0, owner INTEGER NOT NULL DEFAULT 0)")
        old.executemany("INSERT INTO events (body) VALUES (?)", [(b"{}",)] * 3)
    old.close()
    spool = SpoolQueue(path, max_events=100)
    assert spool.pending() == 3
    spool.ack(spool.claim(2, 10_000))
    assert spool.pending() == 1


def test_a_full_memory_queue_is_counted_and_reported(tmp_path):
    errors: list = []
    client = sdk.Client("rcp_w_x", host=f"http://127.0.0.1:{free_port()}", spool=False, max_queue_size=100,
                        on_error=errors.append)
    for seq in range(300):
        client.track(user_id="u1", event="E", properties={"seq": seq})
    client.shutdown(timeout=1)  # the writer has stopped when it returns: every event is accounted for
    stats = client.stats()
    assert stats["dropped_queue_full"] + stats["dropped_at_exit"] == 300
    assert sum(e.count for e in errors) == 300


def test_an_unusable_spool_path_falls_back_to_memory(live_server, tenant, query, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    client = sdk.Client(tenant.write_key, host=live_server.url, spool_path=blocker / "spool.sqlite3",
                        flush_interval=0.05)
    client.track(user_id="u1", event="E")
    assert client.flush(timeout=5)
    client.shutdown(timeout=1)
    assert "keeping events in memory only" in caplog.text
    assert query("SELECT COUNT(*) FROM event") == [(1,)]


def test_default_spool_is_private_and_per_server_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    url = f"http://127.0.0.1:{free_port()}"
    client = sdk.Client("rcp_w_one", host=url)
    client.track(user_id="u1", event="E")
    client.flush(timeout=0.3)
    client.shutdown(timeout=0)
    path = default_spool_path(url, "rcp_w_one")
    assert path.parent == tmp_path / "recap-sdk" and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert default_spool_path(url, "rcp_w_two") != path
    assert SpoolQueue(path, 100).pending() == 1


def test_claims_of_a_killed_process_are_taken_over(tmp_path):
    spool = SpoolQueue(tmp_path / "s.sqlite3", 1000)
    spool.put([b'{"n":1}', b'{"n":2}'])
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from sdk.queue import SpoolQueue
        SpoolQueue({str(tmp_path / 's.sqlite3')!r}, 1000).claim(10, 10_000)
        print("claimed", flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "claimed"
    assert spool.claim(10, 10_000) == []  # leased to a live process
    child.kill()
    child.wait()
    spool.reclaim_dead_owners()
    assert [body for _, body in spool.claim(10, 10_000)] == [b'{"n":1}', b'{"n":2}']
