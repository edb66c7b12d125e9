"""SDK benchmark: Recap's Python SDK beside segment-analytics-python and posthog, one run.

    python bench/sdk_bench.py            # about 2 minutes; prints a Markdown table

Measured against the real Recap server, run as a subprocess on 127.0.0.1 over a temporary
instance (posthog speaks its own wire format, so the server process puts a small adapter in
front of /batch/ that rewrites each PostHog batch into a Segment batch for the same ingest):

* µs per ``track()`` in the caller's thread: the median of 100 blocks of 200 calls, as fast as
  the caller can (Recap's back-pressure then holds the caller to the spool's pace), and paced at
  5,000 calls/s (a block of 100 every 20 ms, 50 blocks), what an app below that pace pays;
* end-to-end events/s: N events from the first ``track()`` until the server has stored them all;
* events lost in a 5 s outage: one event is tracked and the server is stopped, N more are
  tracked, the server comes back after 5 s on the same port, each client is flushed, and the
  stored rows are counted;
* RSS per queued event: a fresh process per client, server unreachable, N events queued,
  (RSS after - RSS before) / N;
* SIGKILL at full speed (Recap only): a fresh process tracks as fast as it can with the server
  unreachable, noting after every 100 calls the last seq and the time its call returned (with
  os.write, which the kernel keeps when the process dies); it is killed after 1.5 s, and the
  spool is read: calls/s, events lost, and how long before the kill the oldest lost event's
  call had returned (the SDK's bound is ``write_interval``, 100 ms).
Each SDK runs with its defaults except the host (and, for the end-to-end and RSS rows, a queue
large enough to hold N so that nothing is dropped: those rows measure speed and memory, not loss).
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import logging
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # run from a checkout; tests/helpers holds the SIGKILL run

from demo_app.serving import free_port  # noqa: E402
from helpers.spool_kill import kill_at_full_speed  # noqa: E402

N_CALLS = 20_000  # per client, for the µs-per-call and end-to-end rows
N_OUTAGE = 20_000
N_RSS = 50_000
KILL_RUNS, KILL_AFTER = 3, 1.5
BLOCK = 200
PACED_BLOCK, PACED_EVERY, PACED_BLOCKS = 100, 0.02, 50
CLIENTS = ("recap", "segment", "posthog")
LABELS = {"recap": "Recap SDK", "segment": "segment-analytics-python", "posthog": "posthog"}


# --- the server subprocess --------------------------------------------------------------------
def serve(port: int, instance: str) -> None:
    """Run the Recap app (plus the PostHog adapter) until killed."""
    from werkzeug.serving import make_server

    from widget_server import create_app

    logging.disable(logging.WARNING)
    app = create_app({"INSTANCE_PATH": instance})
    server = make_server("127.0.0.1", port, posthog_adapter(app.wsgi_app), threaded=True)
    print("ready", flush=True)
    server.serve_forever()


def posthog_adapter(wsgi_app: Callable) -> Callable:
    """Rewrites PostHog's ``POST /batch/`` into a Segment ``/v1/batch`` call to the same app."""
    def adapter(environ: dict, start_response: Callable) -> Any:
        if environ.get("PATH_INFO") != "/batch/":
            return wsgi_app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ.get("HTTP_CONTENT_ENCODING") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        batch = [{"type": "track", "event": m.get("event"), "userId": m.get("distinct_id"),
                  "messageId": m.get("uuid"), "timestamp": m.get("timestamp"),
                  "properties": m.get("properties")} for m in body.get("batch", [])]
        data = json.dumps({"batch": batch, "sentAt": body.get("sent_at")}).encode()
        environ = {**environ, "PATH_INFO": "/v1/batch", "CONTENT_TYPE": "application/json",
                   "CONTENT_LENGTH": str(len(data)), "wsgi.input": __import__("io").BytesIO(data),
                   "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{body['api_key']}:".encode()).decode()}
        environ.pop("HTTP_CONTENT_ENCODING", None)
        return wsgi_app(environ, start_response)

    return adapter


class Server:
    """The server subprocess, stoppable and restartable on the same port and database."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", str(self.port), self.instance],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def make_tenants(instance: str, names: list[str]) -> dict[str, tuple[int, str]]:
    """Apps with write keys, made the way ``recap apps create`` makes them."""
    from widget_server import create_app
    from widget_server.auth import create_key
    from widget_server.store.db import database
    from widget_server.store.models import ApiKey, App

    create_app({"INSTANCE_PATH": instance})
    tenants = {}
    with database.connection_context():
        for name in names:
            app = App.create(name=name)
            tenants[name] = (app.id, create_key(app, ApiKey.WRITE))
    database.close()
    return tenants


class Store:
    """Counts stored events per app straight from the server's SQLite file."""

    def __init__(self, instance: str) -> None:
        self.path = os.path.join(instance, "recap.sqlite3")

    def count(self, app_id: int) -> int:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM event WHERE app_id = ?", (app_id,)).fetchone()[0]

    def wait_for(self, app_id: int, expected: int, timeout: float) -> tuple[int, float]:
        """(count, monotonic time it was reached or the deadline passed)."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.count(app_id)
            now = time.monotonic()
            if count >= expected or now > deadline:
                return count, now
            time.sleep(0.02)


# --- the clients, behind one small interface --------------------------------------------------
def make_client(kind: str, key: str, url: str, spool_dir: str, **options: Any) -> tuple[Callable, Callable]:
    """(track(seq), flush()) for one SDK."""
    if kind.startswith("recap"):
        import sdk
        client = sdk.Client(key, host=url, spool_path=os.path.join(spool_dir, f"{key}.sqlite3"), **options)
        return (lambda seq: client.track(user_id="u1", event="Song Played", properties={"seq": seq}),
                lambda: client.shutdown(timeout=60))
    if kind == "segment":
        from segment.analytics import Client
        client = Client(key, host=url, **options)
        return (lambda seq: client.track(user_id="u1", event="Song Played", properties={"seq": seq}),
                lambda: (client.flush(), client.join()))
    from posthog import Posthog
    client = Posthog(key, host=url, **options)
    return (lambda seq: client.capture("Song Played", distinct_id="u1", properties={"seq": seq}),
            lambda: (client.flush(), client.shutdown()))


def bounded(call: Callable, timeout: float) -> None:
    """Run ``call`` in a thread and stop waiting for it after ``timeout`` seconds."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout)


def calls_and_end_to_end(kind: str, tenant: tuple[int, str], server: Server, store: Store,
                         spool_dir: str) -> tuple[float, float, int]:
    """(median µs per call, end-to-end events/s, stored)."""
    queue_option = {} if kind == "recap" else {"max_queue_size": 10 * N_CALLS}
    track, finish = make_client(kind, tenant[1], server.url, spool_dir, **queue_option)
    per_call = []
    clock = time.perf_counter
    started = time.monotonic()
    for block in range(N_CALLS // BLOCK):
        base = block * BLOCK
        t0 = clock()
        for seq in range(base, base + BLOCK):
            track(seq)
        per_call.append((clock() - t0) / BLOCK * 1e6)
    bounded(finish, 90)
    stored, done = store.wait_for(tenant[0], N_CALLS, timeout=30)
    return statistics.median(per_call), stored / (done - started), stored


def paced_calls(kind: str, tenant: tuple[int, str], server: Server, spool_dir: str) -> float:
    """Median µs per call over blocks of PACED_BLOCK calls started every PACED_EVERY seconds."""
    queue_option = {} if kind == "recap" else {"max_queue_size": 10 * N_CALLS}
    track, finish = make_client(kind, tenant[1], server.url, spool_dir, **queue_option)
    per_call, clock = [], time.perf_counter
    next_block = clock()
    for block in range(PACED_BLOCKS):
        time.sleep(max(0.0, next_block - clock()))
        next_block += PACED_EVERY
        t0 = clock()
        for seq in range(block * PACED_BLOCK, (block + 1) * PACED_BLOCK):
            track(seq)
        per_call.append((clock() - t0) / PACED_BLOCK * 1e6)
    bounded(finish, 90)
    return statistics.median(per_call)


def outage(tenants: dict[str, tuple[int, str]], server: Server, store: Store, spool_dir: str) -> dict[str, int]:
    """Events lost per client when the server is away for 5 s while the app keeps tracking."""
    clients = {kind: make_client(kind, tenants[f"outage-{kind}"][1], server.url, spool_dir) for kind in CLIENTS}
    for track, _ in clients.values():  # warm up: connected, threads running
        track(-1)
    time.sleep(1.0)
    server.stop()
    down_at = time.monotonic()
    for track, _ in clients.values():
        for seq in range(N_OUTAGE):
            track(seq)
    time.sleep(max(0.0, 5.0 - (time.monotonic() - down_at)))
    server.start()
    finishers = [threading.Thread(target=finish, daemon=True) for _, finish in clients.values()]
    for thread in finishers:
        thread.start()
    for thread in finishers:
        thread.join(60)
    lost = {}
    for kind in CLIENTS:
        stored, _ = store.wait_for(tenants[f"outage-{kind}"][0], N_OUTAGE + 1, timeout=5)
        lost[kind] = N_OUTAGE + 1 - stored
    return lost


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def rss_child(kind: str, spool_dir: str) -> None:
    """In a fresh process: RSS growth per queued event with the server unreachable."""
    import gc
    url = f"http://127.0.0.1:{free_port()}"
    options = {"spool": False} if kind == "recap-memory" else {}
    logging.disable(logging.ERROR)
    if kind in ("segment", "posthog"):
        options = {"max_queue_size": 10 * N_RSS}
    track, _ = make_client(kind, "rcp_w_rss", url, spool_dir, **options)
    for seq in range(1000):  # warm up code paths, caches and the first retries
        track(seq)
    time.sleep(1.0)
    gc.collect()
    before = rss_kb()
    for seq in range(N_RSS):
        track(seq)
    time.sleep(2.0)  # let background threads settle (Recap's writer moves the events to disk)
    gc.collect()
    print(json.dumps({"bytes_per_event": (rss_kb() - before) * 1024 / N_RSS}), flush=True)
    os._exit(0)


def rss_per_event(kind: str, spool_dir: str) -> float:
    result = subprocess.run([sys.executable, __file__, "--rss", kind, spool_dir], capture_output=True,
                            text=True, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1])["bytes_per_event"]


def sigkill_at_full_speed(work: str, run: int) -> dict[str, float]:
    """One kill: calls/s, tracked, lost, and the age at the kill of the oldest lost event's return."""
    killed = kill_at_full_speed(os.path.join(work, f"kill-{run}.sqlite3"), os.path.join(work, f"kill-{run}.returned"),
                                after=KILL_AFTER)
    killed_at, returned, spooled = killed.killed_at, killed.returned, killed.spooled
    tracked = returned[-1][0] + 1
    lost = [seq for seq in range(tracked) if seq not in spooled]
    first_note = next((at for seq, at in returned if lost and seq >= lost[0]), killed_at)
    return {"rate": (tracked - returned[0][0] - 1) / (returned[-1][1] - returned[0][1]), "tracked": tracked,
            "lost": len(lost), "oldest_ms": (killed_at - first_note) * 1000 if lost else 0.0}


# --- the run ----------------------------------------------------------------------------------
def main() -> None:
    logging.disable(logging.ERROR)  # outage warnings (thousands from posthog) are the point here
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="recap-sdk-bench-") as work:
        instance = os.path.join(work, "instance")
        spool_dir = os.path.join(work, "spools")
        os.makedirs(spool_dir)
        tenants = make_tenants(instance, [f"{prefix}-{kind}" for prefix in ("calls", "paced", "outage")
                                          for kind in CLIENTS])
        store = Store(instance)
        server = Server(instance)
        server.start()
        try:
            rows: dict[str, dict[str, Any]] = {kind: {} for kind in CLIENTS}
            for kind in CLIENTS:
                per_call, rate, stored = calls_and_end_to_end(kind, tenants[f"calls-{kind}"], server, store,
                                                              spool_dir)
                rows[kind].update(call=per_call, rate=rate, stored=stored)
                log_line(f"{kind}: {per_call:.2f} µs/call, {rate:,.0f} events/s ({stored} stored)")
                rows[kind]["paced"] = paced_calls(kind, tenants[f"paced-{kind}"], server, spool_dir)
                log_line(f"{kind}: {rows[kind]['paced']:.2f} µs/call at {PACED_BLOCK / PACED_EVERY:,.0f} calls/s")
            for kind, lost in outage(tenants, server, store, spool_dir).items():
                rows[kind]["lost"] = lost
                log_line(f"{kind}: {lost} lost in the outage")
        finally:
            server.stop()
        for kind in ("recap", "recap-memory", "segment", "posthog"):
            rows.setdefault(kind, {})["rss"] = rss_per_event(kind, spool_dir)
            log_line(f"{kind}: {rows[kind]['rss']:.0f} B RSS per queued event")
        kills = [sigkill_at_full_speed(work, run) for run in range(KILL_RUNS)]
    print_table(rows, time.monotonic() - started)
    print_kills(kills)


def log_line(text: str) -> None:
    sys.stderr.write(text + "\n")


def print_table(rows: dict[str, dict[str, Any]], took: float) -> None:
    others = [k for k in CLIENTS if k != "recap"]
    fastest_call = min(rows[k]["call"] for k in others)
    fastest_rate = max(rows[k]["rate"] for k in others)
    print(f"Recap SDK benchmark ({N_CALLS:,} tracks per client; {os.cpu_count()} CPUs; {took:.0f} s)\n")
    print("| | " + " | ".join(LABELS[k] for k in CLIENTS) + " |")
    print("|---|" + "---|" * len(CLIENTS))
    print("| µs per `track()` in the caller's thread, as fast as it can (median) | "
          + " | ".join(f"{rows[k]['call']:.2f}" for k in CLIENTS) + " |")
    print(f"| µs per `track()` at {PACED_BLOCK / PACED_EVERY:,.0f} calls/s (median) | "
          + " | ".join(f"{rows[k]['paced']:.2f}" for k in CLIENTS) + " |")
    print("| end-to-end events/s into the Recap server | "
          + " | ".join(f"{rows[k]['rate']:,.0f}" for k in CLIENTS) + " |")
    print(f"| events lost of {N_OUTAGE + 1:,} tracked across a 5 s outage | "
          + " | ".join(f"{rows[k]['lost']:,}" for k in CLIENTS) + " |")
    print("| RSS per queued event | " + " | ".join(
        f"{rows[k]['rss']:.0f} B" + (f" (spool; {rows['recap-memory']['rss']:.0f} B with spool=False)"
                                     if k == "recap" else "") for k in CLIENTS) + " |")
    fastest_paced = min(rows[k]["paced"] for k in others)
    print(f"\ntrack() at {PACED_BLOCK / PACED_EVERY:,.0f} calls/s: {fastest_paced / rows['recap']['paced']:.1f}x "
          f"cheaper than the fastest other SDK; as fast as it can: "
          f"{fastest_call / rows['recap']['call']:.1f}x; "
          f"end-to-end: {rows['recap']['rate'] / fastest_rate:.1f}x the fastest other SDK.")


def print_kills(kills: list[dict[str, float]]) -> None:
    print(f"\nSIGKILL after {KILL_AFTER} s of tracking at full speed (Recap SDK, server unreachable):\n")
    print("| run | `track()` calls/s | tracked | lost | oldest lost: its call returned before the kill |")
    print("|---|---|---|---|---|")
    for run, kill in enumerate(kills, 1):
        print(f"| {run} | {kill['rate']:,.0f} | {kill['tracked']:,} | {kill['lost']:,} | {kill['oldest_ms']:.0f} ms |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "INSTANCE"), help=argparse.SUPPRESS)
    parser.add_argument("--rss", nargs=2, metavar=("CLIENT", "SPOOL_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--kills-only", action="store_true", help="only the SIGKILL-at-full-speed runs")
    arguments = parser.parse_args()
    if arguments.kills_only:
        with tempfile.TemporaryDirectory(prefix="recap-sdk-bench-") as work:
            print_kills([sigkill_at_full_speed(work, run) for run in range(KILL_RUNS)])
    elif arguments.serve:
        serve(int(arguments.serve[0]), arguments.serve[1])
    elif arguments.rss:
        rss_child(*arguments.rss)
    else:
        main()
