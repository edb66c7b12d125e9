"""Metrics benchmark: what recording costs an ingest request, in one process and in
prometheus_client's multiprocess mode (gunicorn's workers counting together).

Run: ``python bench/metrics_bench.py`` (a few seconds). Each mode runs in a process of its own,
since prometheus_client picks it at import: it records what one ``/v1/batch`` answer records
(``monitoring.ingested``, the request histogram and counter) and the check that skips the
request's log line when no handler would write it (the default text format), and prints µs
per request and per event of a 500-event batch, against the ~26 µs of CPU an event costs on
the whole path (docs/INGEST.md).
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time

BATCH = 500


def measure(requests: int, repeats: int) -> float:
    """Median µs per request over ``repeats`` runs of ``requests`` recordings."""
    from widget_server import monitoring

    log = logging.getLogger("widget_server.requests")
    logging.getLogger("widget_server").setLevel(logging.INFO)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(requests):
            monitoring.ingested(BATCH, BATCH - 2, 2, ())
            monitoring.REQUEST_SECONDS.labels("/v1/batch", "POST").observe(0.012)
            monitoring.REQUESTS.labels("/v1/batch", "POST", "200").inc()
            if log.isEnabledFor(logging.INFO) and log.hasHandlers():  # as request_log does
                log.info("%s %s %d %.1f ms", "POST", "/v1/batch", 200, 12.0, extra={"request_id": "r"})
        runs.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(measure(args.requests, args.repeats))
        return
    rows = []
    for mode in ("one process", "multiprocess"):
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        with tempfile.TemporaryDirectory(prefix="recap-metrics-bench-") as folder:
            if mode == "multiprocess":
                env["PROMETHEUS_MULTIPROC_DIR"] = folder
            out = subprocess.run([sys.executable, __file__, "--child", "--requests", str(args.requests),
                                  "--repeats", str(args.repeats)], env=env, check=True, capture_output=True,
                                 text=True).stdout
        rows.append((mode, float(out)))
    print(f"{'mode':<14}  {'µs per request':>14}  {'µs per event (500/batch)':>24}")
    for mode, micros in rows:
        print(f"{mode:<14}  {micros:>14.2f}  {micros / BATCH:>24.4f}")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
