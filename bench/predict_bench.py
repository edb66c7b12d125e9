"""Churn prediction cost: training (with its evaluation) and scoring time, per 10k users.

Run: ``python bench/predict_bench.py [--users 2500 10000]`` (about two minutes at the default
sizes; needs the predict extra). For each size, the demo's people (demo_app/people.py: archetypes,
streaks and lulls, 30% fading out and leaving on a planted day) get one to three events on each
active day of 300 days, sent through the real ingest into a fresh SQLite store. Then, in this
process: the one SQL scan of daily activity, ``training.train`` as ``recap predict train`` runs it
(activity, 30 weekly cutoffs of features, the time-split fit and evaluation, the refit, the
scores written), and ``training.score`` alone, as the daily job runs it. Medians of ``--runs``.
"""
from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from demo_app.people import active_days, make_people  # noqa: E402
from helpers.server import LiveServer, make_tenant  # noqa: E402
from helpers.story import send, track  # noqa: E402
from widget_server import create_app  # noqa: E402
from widget_server.predict import features, training  # noqa: E402
from widget_server.store.db import database  # noqa: E402

END = date(2026, 11, 1)
START = END - timedelta(days=300)


def planted(users: int) -> list[dict]:
    events = []
    for person in make_people("u", users, 7, START, END):
        rng = random.Random(person.user_id)
        for day in active_days(person, 7, END):
            at = int(datetime(day.year, day.month, day.day, 9, tzinfo=UTC).timestamp() * 1000)
            events += [track(person.user_id, "Lesson Completed" if n else "App Opened", at + n * 600_000)
                       for n in range(rng.randint(1, 3))]
    return events


def measure(users: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"INSTANCE_PATH": instance, "TESTING": True})
        data = planted(users)
        server = LiveServer(app).start()
        try:
            tenant = make_tenant("Bench")
            for at in range(0, len(data), 2500):
                send(server, tenant.write_key, data[at:at + 2500])
        finally:
            server.stop()
        timings: dict[str, list[float]] = {"activity": [], "train": [], "score": []}
        with app.app_context(), database.connection_context():
            for _ in range(runs):
                began = time.perf_counter()
                list(features.daily_activity(tenant.app_id))
                timings["activity"].append(time.perf_counter() - began)
                began = time.perf_counter()
                kept = training.train(tenant.app_id)
                timings["train"].append(time.perf_counter() - began)
                began = time.perf_counter()
                scored = training.score(tenant.app_id, kept)
                timings["score"].append(time.perf_counter() - began)
            judged = kept.report["evaluation"]
        return {"users": users, "events": len(data), "examples": kept.report["kept"]["fitted_on_examples"],
                "scored": scored, "auc": judged["model"]["roc_auc"], "baseline": judged["baseline"]["roc_auc"],
                **{name: statistics.median(values) for name, values in timings.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[2500, 10_000], help="sizes to measure")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (the median is shown)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [measure(users, args.runs) for users in args.users]
    print(f"\nchurn prediction, SQLite, medians of {args.runs}; 2 shared cores")
    print(f"{'users':>7} | {'events':>9} | {'examples':>8} | {'activity SQL':>12} | {'train':>8} | {'score':>7} | "
          f"{'train / 10k users':>17} | {'score / 10k':>11} | {'ROC AUC (baseline)':>18}")
    print("-" * 128)
    for r in rows:
        per = 10_000 / r["users"]
        print(f"{r['users']:>7,} | {r['events']:>9,} | {r['examples']:>8,} | {r['activity']:>10.2f} s | "
              f"{r['train']:>6.2f} s | {r['score']:>5.2f} s | {r['train'] * per:>15.2f} s | "
              f"{r['score'] * per:>9.2f} s | {r['auc']:>9.3f} ({r['baseline']:.3f})")


if __name__ == "__main__":
    main()
