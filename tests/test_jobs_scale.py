"""Scale proof of the job queue (DESIGN.md, "Background work"): a real Redis and the real
PostgreSQL, two ``recap worker`` processes (each with an instance folder of its own, as on two
machines) share one story build; every user is built once and each story equals the inline
build's; a worker killed with SIGKILL mid-build loses no user (its chunk is built again)."""
from __future__ import annotations

import os
import signal

from test_jobs import listeners

from helpers.jobs import recap, recap_env, stop
from helpers.postgres import new_database
from helpers.server import LiveServer, make_tenant
from helpers.story import NOW
from helpers.waiting import wait_until
from widget_server import create_app
from widget_server.store.db import database
from widget_server.store.models import BuildChunk, JobRecord

USERS, CHUNK = 1200, 60
NOW_ARG = ["--now", NOW.date().isoformat()]


def session_pids(leader: int) -> set[int]:
    """The processes of the session ``leader`` started (a worker and its forks)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == leader:
                    found.add(int(entry))
            except OSError:
                pass
    return found


def stories(app_id: int) -> dict[str, tuple[str, str]]:
    with database.connection_context():
        rows = database.execute_sql("SELECT user_id, story, built_from FROM precomputed_story WHERE app_id = %s",
                                    (app_id,)).fetchall()
    assert len(rows) == len({user for user, _, _ in rows})
    return {user: (story, built_from) for user, story, built_from in rows}


def test_two_workers_on_redis_and_postgresql_build_every_user_once_and_a_killed_worker_loses_none(
        postgres, redis_url, tmp_path):
    config = {"DATABASE_URL": new_database(postgres, "jobs_scale"), "QUEUE_URL": f"{redis_url}/1"}
    app = create_app({"INSTANCE_PATH": str(tmp_path / "web"), "TESTING": True, **config})
    server = LiveServer(app).start()
    processes = []
    try:
        tenant = make_tenant("Soundwave")
        listeners(server, tenant, USERS, plays=12)
        machines = [recap("worker", env=recap_env(tmp_path / name, **config, BUILD_CHUNK_LEASE=3),
                          log=tmp_path / f"{name}.log") for name in ("a", "b")]
        processes += machines
        follower = recap("stories", "build", "year-in-music", "--app", tenant.name, *NOW_ARG,
                         "--chunk-size", str(CHUNK),
                         env=recap_env(tmp_path / "web", **config, BUILD_CHUNK_LEASE=3), log=tmp_path / "build.log")
        processes.append(follower)

        # Kill machine "a" while it holds a chunk that is not done.
        doomed = machines[0]

        def holding() -> BuildChunk | None:
            """A chunk machine "a" has claimed and not finished, if any."""
            pids = session_pids(doomed.pid)
            with database.connection_context():
                running = JobRecord.select().where((JobRecord.status == "running") & (JobRecord.name == "build_chunk"))
                for record in running:
                    if int(record.worker.rsplit(":", 1)[1]) in pids:
                        chunk = BuildChunk.get_or_none((BuildChunk.job_id == record.id)
                                                       & (BuildChunk.state == "queued"))
                        if chunk is not None:
                            return chunk
            return None

        def built_by_a() -> bool:
            pids = session_pids(doomed.pid)
            with database.connection_context():
                return any(int(chunk.built_by.rsplit(":", 1)[1]) in pids
                           for chunk in BuildChunk.select().where(BuildChunk.state == "done"))

        wait_until(built_by_a, 60, "machine a to build a chunk", every=0.01)
        lost = wait_until(holding, 60, "machine a to hold a chunk", every=0.01)
        a_pids = session_pids(doomed.pid)
        stop(doomed, signal.SIGKILL)
        with database.connection_context():
            lost = BuildChunk.get_by_id(lost.id)
        assert follower.wait(180) == 0, (tmp_path / "build.log").read_text()

        with database.connection_context():
            chunks = list(BuildChunk.select())
            assert JobRecord.select().where(JobRecord.status == "running").count() == 0  # the dead one's is gone
        assert len(chunks) == USERS // CHUNK and all(chunk.state == "done" for chunk in chunks)
        assert sum(chunk.built + chunk.not_eligible for chunk in chunks) == USERS  # each chunk counted once
        builders = {int(chunk.built_by.rsplit(":", 1)[1]) for chunk in chunks}
        assert builders & a_pids and builders - a_pids, "both machines built chunks"
        redone = next(chunk for chunk in chunks if chunk.id == lost.id)
        if lost.state == "queued":  # killed mid-chunk (not in the instant after its commit): built again
            assert redone.attempts >= 2 and int(redone.built_by.rsplit(":", 1)[1]) not in a_pids
        queued = stories(tenant.app_id)
        assert len(queued) == sum(chunk.built for chunk in chunks) > USERS // 2

        inline = app.test_cli_runner().invoke(args=["stories", "build", "--inline", "year-in-music", "--app",
                                                    tenant.name, *NOW_ARG])
        assert inline.exit_code == 0, inline.output
        assert stories(tenant.app_id) == queued
    finally:
        for process in processes:
            stop(process)
        server.stop()
        database.close()
