"""A process that tracks with the Python SDK as fast as it can, the server unreachable, SIGKILLed
in the middle: what its calls returned and what its spool kept. tests/test_sdk_spool.py holds the
spool to its bound (nothing tracked more than ``write_interval`` before the kill is lost);
bench/sdk_bench.py measures the same run."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from demo_app.serving import free_port

REPO = Path(__file__).resolve().parents[2]

# Tracks as fast as it can, the server unreachable; after every 100 calls it appends "<last seq>
# <time.time()>" to the side file with os.write, so the kernel keeps it when the process is killed.
# (In a function: its locals are faster than a script's globals, so the loop runs at full speed.)
FULL_SPEED = textwrap.dedent("""
    import os, sys, time, sdk

    def track_until_killed(spool, side, url):
        client = sdk.Client("rcp_w_kill", host=url, spool_path=spool)
        fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        track, clock, write, seq = client.track, time.time, os.write, 0
        while True:
            for _ in range(100):
                track(user_id="u1", event="Song Played", properties={"seq": seq})
                seq += 1
            write(fd, b"%d %.6f\\n" % (seq - 1, clock()))

    track_until_killed(*sys.argv[1:4])
""")


@dataclass
class Killed:
    killed_at: float  # time.time() just before the SIGKILL (it lands after: on the safe side)
    returned: list[tuple[int, float]]  # every 100 calls: the last seq and when its call returned
    spooled: set[int]  # the seqs in the spool after the kill


def kill_at_full_speed(spool: str | Path, side: str | Path, after: float) -> Killed:
    """Start the full-speed tracker on ``spool``, SIGKILL it ``after`` seconds past its first
    note in ``side``, and read both files."""
    child = subprocess.Popen([sys.executable, "-c", FULL_SPEED, str(spool), str(side),
                              f"http://127.0.0.1:{free_port()}"], cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while (not os.path.exists(side) or not os.path.getsize(side)) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(after)
        killed_at = time.time()
    finally:
        child.kill()
        child.wait(timeout=10)
    with open(side) as notes:
        returned = [(int(seq), float(at)) for seq, at in (line.split() for line in notes if line.count(" ") == 1)]
    with sqlite3.connect(spool) as conn:
        spooled = {json.loads(body)["properties"]["seq"] for (body,) in conn.execute("SELECT body FROM events")}
    conn.close()
    return Killed(killed_at, returned, spooled)
