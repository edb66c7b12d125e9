"""A PostgreSQL cluster of the tests' own, from Debian's package (``scripts/test.sh`` installs
it), started once per session (once per xdist worker) on a free loopback port, and a fresh
database in it per test; ``Cluster`` for a test that needs one of its own to stop."""
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

from helpers.debian import missing


def _pg_bin() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


class Cluster:
    """A throw-away PostgreSQL cluster on a free loopback port (``url``: without a database
    name), which a test may ``stop`` and ``start`` again, as an outage would; ``remove`` ends it.
    Raises FileNotFoundError when PostgreSQL is not installed."""

    def __init__(self) -> None:
        bindir = _pg_bin()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL is not installed (scripts/test.sh installs it)")
        self.bindir = bindir
        self.root = tempfile.mkdtemp(prefix="recap-pg-")
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.root, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = os.path.join(self.root, "data")
        self.url = f"postgresql://recap@127.0.0.1:{self.port}"
        subprocess.run([*self.as_owner, f"{bindir}/initdb", "-D", self.data, "-A", "trust", "-U", "recap",
                        "--no-sync"], check=True, capture_output=True)

    def start(self, durable: bool = False) -> Cluster:
        """Start it; ``durable`` keeps PostgreSQL's fsync on (benchmarks), which tests turn off."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        if not durable:
            options += " -c fsync=off"
        subprocess.run([*self.as_owner, f"{self.bindir}/pg_ctl", "-D", self.data, "-o", options, "-l",
                        f"{self.root}/log", "-w", "start"], check=True, capture_output=True)
        return self

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run([*self.as_owner, f"{self.bindir}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"],
                       capture_output=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def cluster(durable: bool = False) -> Iterator[str]:
    """A started ``Cluster`` for the block (bench/ uses it too); its URL without a database name."""
    started = Cluster()
    try:
        started.start(durable)
        yield started.url
    finally:
        started.remove()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster of its own on 127.0.0.1, shared by the session (every test makes a
    database of its own in it with ``new_database``); yields its URL without a database name."""
    if _pg_bin() is None:
        missing("PostgreSQL")
    with cluster() as url:
        yield url


def new_database(server_url: str, name: str, options: str = "") -> str:
    """A new database ``name`` on the cluster (``options``: what CREATE DATABASE takes after it);
    its URL."""
    import psycopg2

    con = psycopg2.connect(f"{server_url}/postgres")
    con.autocommit = True
    con.cursor().execute(f"CREATE DATABASE {name} {options}")
    con.close()
    return f"{server_url}/{name}"
