"""Processes that start together on a fresh instance folder (gunicorn workers without
``--preload``) agree on one signing key and one schema, and none of them fails."""
from __future__ import annotations

import multiprocessing
import sqlite3
import traceback

import pytest

PROCESSES = 3


def start(config: dict, barrier, answers) -> None:
    from widget_server import create_app  # imported before the barrier: the starts race

    barrier.wait()
    try:
        app = create_app(config)
        answers.put(("started", tuple(app.config["SECRET_KEYS"])))
    except Exception:
        answers.put(("failed", traceback.format_exc()))


def start_together(configs: list[dict]) -> list[tuple[str, object]]:
    """Make the app in one process per config, all at the same moment; their answers."""
    spawn = multiprocessing.get_context("spawn")
    barrier, answers = spawn.Barrier(len(configs)), spawn.Queue()
    processes = [spawn.Process(target=start, args=(config, barrier, answers)) for config in configs]
    for process in processes:
        process.start()
    try:
        return [answers.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)


@pytest.mark.parametrize("attempt", range(3))
def test_processes_starting_together_share_one_key_and_one_schema(tmp_path, attempt):
    instance = str(tmp_path / "instance")
    results = start_together([{"INSTANCE_PATH": instance}] * PROCESSES)
    failures = [detail for outcome, detail in results if outcome == "failed"]
    assert failures == []
    assert len({keys for _, keys in results}) == 1  # a token one worker signs, every worker accepts
    with sqlite3.connect(f"{instance}/recap.sqlite3") as con:
        versions = [row[0] for row in con.execute("SELECT version FROM schema_version ORDER BY version")]
    from widget_server.db import MIGRATIONS

    assert versions == list(range(1, len(MIGRATIONS) + 1))
