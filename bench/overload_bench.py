"""Overload benchmark: latency of accepted ingest with and without load shedding.

Run: ``python bench/overload_bench.py`` (about 2 minutes; needs Debian's nginx). For each
number of senders it starts the recommended production setup twice, fresh each time (nginx
with deploy/nginx-recap.conf in front of gunicorn as README.md says; the fault tests'
harness, tests/helpers/production.py), once as shipped and once with its shedding taken out
(no ``max_conns``, no request-start stamp for the app's queue check), and lets the senders post
50-event batches at once for a few seconds, each waiting out Retry-After after a 429 as the
SDK does. It prints, per run, the accepted requests and events/s, accepted p50/p99, how many
were shed and by whom, and whether every acknowledged event is stored exactly once.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests")]

from helpers.ingest_load import flood, make_instance, percentile, stored_counts  # noqa: E402
from helpers.production import Production  # noqa: E402


def run(senders: int, seconds: float, per_batch: int, shedding: bool) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="recap-overload-"))
    try:
        server = Production(folder, shedding=shedding)
        tenant = make_instance(server.instance)
        with server:
            seen = flood(server.url, tenant, senders, seconds, per_batch)
        stored = stored_counts(server.instance)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    latencies = seen["latencies"]
    by_app = sum(b"waited" in a.body for a in seen["shed"])
    once = all(stored.get(m) == 1 for m in seen["acknowledged"]) and all(n == 1 for n in stored.values())
    shed_ms = percentile([a.latency for a in seen["shed"]], 0.5) * 1000 if seen["shed"] else 0
    return [f"{senders:,}", "shipped" if shedding else "none", f"{len(latencies):,}",
            f"{len(seen['acknowledged']) / seconds:,.0f}",
            f"{percentile(latencies, 0.5) * 1000:,.0f} / {percentile(latencies, 0.99) * 1000:,.0f}",
            f"{len(seen['shed']) - by_app:,} / {by_app:,}", f"{shed_ms:,.0f}", f"{len(seen['other']):,}",
            "yes" if once else "NO"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, nargs="+", default=[4, 300, 1000])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    header = ["senders", "shedding", "accepted", "events/s", "accepted p50 / p99 ms",
              "429 nginx / app", "429 p50 ms", "other", "acked stored once"]
    rows = []
    for senders in args.senders:
        for shedding in (False, True):
            rows.append(run(senders, args.seconds, args.batch, shedding))
            print("  ".join(rows[-1]), file=sys.stderr)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"{args.seconds:g} s per run, {args.batch}-event batches; load average before / after "
          f"{load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
