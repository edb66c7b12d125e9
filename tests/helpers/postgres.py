"""A PostgreSQL cluster of the tests' own, from Debian's package (``scripts/test.sh`` installs
it), started once per session (once per xdist worker) on a free loopback port, and a fresh
database in it per test."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest


def _pg_bin() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free 127.0.0.1 port (bench/ uses it too); its URL
    without a database name. Raises FileNotFoundError when PostgreSQL is not installed."""
    bindir = _pg_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL is not installed (scripts/test.sh installs it)")
    root = tempfile.mkdtemp(prefix="recap-pg-")
    as_owner: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = os.path.join(root, "data")
    subprocess.run([*as_owner, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "recap", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_owner, f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", f"{root}/log", "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://recap@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_owner, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster of its own on 127.0.0.1, shared by the session (every test makes a
    database of its own in it with ``new_database``); yields its URL without a database name."""
    if _pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (scripts/test.sh installs it)")
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it)")
    with cluster() as url:
        yield url


def new_database(server_url: str, name: str) -> str:
    import psycopg2

    con = psycopg2.connect(f"{server_url}/postgres")
    con.autocommit = True
    con.cursor().execute(f"CREATE DATABASE {name}")
    con.close()
    return f"{server_url}/{name}"
