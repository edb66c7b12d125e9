"""Processes that start together on a fresh instance folder (gunicorn workers without
``--preload``) agree on one signing key and one schema, and none of them fails."""
from __future__ import annotations

import sqlite3

import pytest

from helpers.start import start_together

PROCESSES = 3


@pytest.mark.parametrize("attempt", range(3))
def test_processes_starting_together_share_one_key_and_one_schema(tmp_path, attempt):
    instance = str(tmp_path / "instance")
    results = start_together([{"INSTANCE_PATH": instance}] * PROCESSES)
    failures = [detail for outcome, detail in results if outcome == "failed"]
    assert failures == []
    assert len({keys for _, keys in results}) == 1  # a token one worker signs, every worker accepts
    with sqlite3.connect(f"{instance}/recap.sqlite3") as con:
        versions = [row[0] for row in con.execute("SELECT version FROM schema_version ORDER BY version")]
    from widget_server.store.migrations import MIGRATIONS

    assert versions == list(range(1, len(MIGRATIONS) + 1))
