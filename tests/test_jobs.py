"""The job queue (widget_server/jobs/): real ``recap worker`` processes on the instance's SQLite
queue, a job that fails being retried, kept with its reason and retried by hand, a worker
stopped with SIGTERM in the middle of a chunk, and a new share's images drawn by a worker."""
from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.jobs import RECAP, REPO, recap, recap_env, stop
from helpers.server import make_tenant
from helpers.story import NOW, ms, send, track
from helpers.waiting import wait_until
from widget_server import create_app
from widget_server.engine import template_store
from widget_server.engine.templates import SHIPPED_DIR
from widget_server.jobs import job_counts
from widget_server.jobs.queue import queue_of, queue_status
from widget_server.store.db import database
from widget_server.store.models import BuildChunk, JobRecord, StoryBuild

NOW_ARG = ["--now", NOW.date().isoformat()]
FAST_RETRIES = {"JOB_RETRIES": 2, "JOB_RETRY_DELAY": "0.2"}


def listeners(live_server, tenant, users: int, plays: int = 12, first: int = 0) -> None:
    start = ms("2026-04-01T18:00:00")
    events = [track(f"user{u:05d}", "Song Played", start + i * 86_400_000,
                    {"song_id": f"s{i}", "song": f"Song {i}", "artist": f"Artist {(u + i) % 5}", "genre": "pop",
                     "ms_played": 200_000 + u, "device": "ios"})
              for u in range(first, first + users) for i in range(plays)]
    for at in range(0, len(events), 2500):
        send(live_server, tenant.write_key, events[at:at + 2500])


def built(query, app_id: int) -> dict[str, str]:
    return dict(query("SELECT user_id, story FROM precomputed_story WHERE app_id = ?", app_id))


def recap_cli(instance: Path, *args: str, timeout: float = 120, **config) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RECAP, *args], env=recap_env(instance, **config), cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def shipped_as(template_id: str) -> str:
    text = (SHIPPED_DIR / "year_in_music.toml").read_text()
    return text.replace('id = "year-in-music"', f'id = "{template_id}"', 1)


@pytest.fixture
def worker_log(tmp_path):
    return tmp_path / "worker.log"


def test_a_failing_job_is_retried_then_listed_with_its_reason_and_retry_runs_it(app, live_server, tenant, query,
                                                                               tmp_path, worker_log):
    instance = Path(app.instance_path)
    listeners(live_server, tenant, 30)
    with database.connection_context():
        template_store.save_draft(tenant.app_id, "mixtape", shipped_as("mixtape"), publish=True)
    queue = queue_of(app)
    worker = follower = None
    try:
        # The build is enqueued, then its template breaks before any worker runs it: its stored
        # version is one the engine no longer takes (as after an upgrade that refuses it).
        follower = recap("stories", "build", "mixtape", "--app", tenant.name, *NOW_ARG, "--chunk-size", "100",
                         env=recap_env(instance, **FAST_RETRIES), log=tmp_path / "build.log")
        wait_until(lambda: queue.depth() == 1, 60, "the build's chunk on the queue")
        query("UPDATE template_version SET source = 'this is = not a template' WHERE template_id = 'mixtape'")
        worker = recap("worker", env=recap_env(instance, **FAST_RETRIES), log=worker_log)
        assert follower.wait(60) == 1, (tmp_path / "build.log").read_text()
        output = (tmp_path / "build.log").read_text()
        assert "1 chunks failed after their retries" in output, output

        with database.connection_context():
            record = JobRecord.get()
        assert (record.name, record.status, record.attempts) == ("build_chunk", "failed", 3)  # 1 + 2 retries
        assert "TemplateInvalid" in record.reason
        assert job_counts() == {"running": 0, "retrying": 0, "failed": 1}
        listing = recap_cli(instance, "jobs")
        assert listing.returncode == 0, listing.stderr
        assert f"failed    {record.id}  build_chunk" in listing.stdout
        assert "reason: TemplateInvalid" in listing.stdout
        assert built(query, tenant.app_id) == {}

        # Fixed (a new version published), and retried by hand: the same job runs again and builds the chunk.
        with database.connection_context():
            template_store.save_draft(tenant.app_id, "mixtape", shipped_as("mixtape"), publish=True)
        retried = recap_cli(instance, "jobs", "retry", record.id)
        assert retried.returncode == 0, retried.stderr
        assert f"again as {record.id}" in retried.stdout
        wait_until(lambda: len(built(query, tenant.app_id)) == 30, 60, "the retried chunk's stories")
        with database.connection_context():
            wait_until(lambda: JobRecord.select().count() == 0, 10, "the completed job's record to go")
            assert BuildChunk.get().state == "done"
        again = recap_cli(instance, "jobs", "retry", record.id)
        assert again.returncode != 0 and "No failed job has the id" in again.stderr
    finally:
        if follower is not None:
            stop(follower, signal.SIGKILL)
        if worker is not None:
            assert stop(worker) == 0, worker_log.read_text()


def test_sigterm_mid_chunk_puts_the_chunk_back_and_the_build_completes(app, live_server, tenant, query, tmp_path,
                                                                       worker_log):
    instance = Path(app.instance_path)
    users = 1500
    listeners(live_server, tenant, users, plays=10)
    config = {"WORKER_STOP_TIMEOUT": 0}  # interrupt at once what is running: the chunk takes seconds
    # Without the chores: one enqueued as a minute turns would sit beside the chunk on the queue.
    first = recap("worker", "--no-periodic", env=recap_env(instance, **config), log=worker_log)
    second = None
    follower = recap("stories", "build", "year-in-music", "--app", tenant.name, *NOW_ARG, "--chunk-size", str(users),
                     env=recap_env(instance), log=tmp_path / "build.log")
    try:
        with database.connection_context():
            wait_until(lambda: JobRecord.get_or_none(JobRecord.status == "running"), 60, "the chunk to run")
        assert stop(first, signal.SIGTERM) == 0, worker_log.read_text()
        log = worker_log.read_text()
        assert "interrupted by the worker's shutdown: enqueued again" in log, log
        with database.connection_context():
            chunk = BuildChunk.get()
            assert (chunk.state, chunk.attempts) == ("queued", 1)
            assert JobRecord.select().count() == 0  # back on the queue, not "running" for ever
        assert queue_status(app)["depth"] == 1

        second = recap("worker", env=recap_env(instance), log=tmp_path / "second.log")
        assert follower.wait(120) == 0, (tmp_path / "build.log").read_text()
        with database.connection_context():
            chunk = BuildChunk.get()
            assert (chunk.state, chunk.attempts, chunk.built + chunk.not_eligible) == ("done", 2, users)
        stories = built(query, tenant.app_id)
        assert len(stories) == chunk.built and len(set(stories)) == len(stories)
    finally:
        stop(follower, signal.SIGKILL)
        for worker in (first, second):
            if worker is not None:
                stop(worker)


def test_recap_jobs_with_an_unknown_id_says_so(app, tmp_path):
    result = recap_cli(Path(app.instance_path), "jobs", "retry", "nope")
    assert result.returncode != 0 and "No failed job has the id 'nope'" in result.stderr


def test_queue_status_reports_a_lost_redis(tmp_path):
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other"), "TESTING": True,
                        "QUEUE_URL": "redis://127.0.0.1:1/0"})
    status = queue_status(other)
    assert status["backend"] == "redis" and status["reachable"] is False and status["depth"] is None
    assert "ConnectionError" in status["error"]
    json.dumps(status)


def test_recap_run_draws_a_new_shares_images_and_video_on_its_own_queue_thread_unless_told_not_to(
        app, live_server, soundwave, tmp_path):
    from demo_app.serving import free_port
    from helpers.share import share
    from helpers.story import app_template
    from helpers.video import shipped_with
    from widget_server.share import images
    from widget_server.video.files import video_path

    # The story's intro alone before its card: a short video (what is drawn is tests/test_share_video.py's).
    app_template(app.instance_path, soundwave.app_id, "year-in-music", shipped_with(frames=("intro",)))
    made = share(live_server, soundwave)  # this test's server has no consumer: the jobs (images, video) wait
    with app.app_context():
        files = [images.cache_path(made["id"], kind) for kind in images.KINDS] + [video_path(made["id"])]
    queue = queue_of(app)
    assert queue.depth() == 2 and not any(path.exists() for path in files)
    instance = Path(app.instance_path)
    for no_worker in (True, False):
        server = recap("run", "--port", str(free_port()), *(["--no-worker"] if no_worker else []),
                       env=recap_env(instance), log=tmp_path / "run.log")
        try:
            if no_worker:
                wait_until(lambda: "Running on" in (tmp_path / "run.log").read_text(), 30, "recap run to serve")
                assert queue.depth() == 2 and not any(path.exists() for path in files)
            else:
                wait_until(lambda: all(path.exists() for path in files), 180, "the share's images and video")
                wait_until(lambda: queue.depth() == 0, 10, "the queue to empty (it also runs the chores)")
        finally:
            assert stop(server, signal.SIGINT) in (0, 1, -signal.SIGINT), (tmp_path / "run.log").read_text()
    assert "Consuming the job queue in this process" in (tmp_path / "run.log").read_text()


def test_a_build_on_a_lost_redis_is_refused_before_anything_is_written(tmp_path):
    lost = create_app({"INSTANCE_PATH": str(tmp_path / "lost"), "TESTING": True, "QUEUE_URL": "redis://127.0.0.1:1/0"})
    with database.connection_context():
        make_tenant("Soundwave")
    result = lost.test_cli_runner().invoke(args=["stories", "build", "year-in-music", "--app", "Soundwave", *NOW_ARG])
    assert result.exit_code == 1, result.output
    assert "The redis job queue is not reachable" in result.output and "--inline" in result.output
    with database.connection_context():
        assert StoryBuild.select().count() == 0
    database.close()


def test_the_chores_are_periodic_jobs_and_a_worker_runs_them(app, tenant, tmp_path, worker_log):
    from huey.api import PeriodicTask

    from widget_server.store.models import ViewerGrant, now_ms

    queue = queue_of(app)
    chores = {name for name, wrapper in queue.tasks.items() if issubclass(wrapper.task_class, PeriodicTask)}
    assert chores == {"prune_builds", "refresh_populations", "resume_builds", "resume_deliveries", "sweep_grants",
                      "sweep_shares", "trigger_stories", "resume_trigger_chunks", "retrain_churn_models",
                      "score_churn", "refresh_audiences"}
    with database.connection_context():
        ViewerGrant.create(id="old", app=tenant.app_id, user_id="u1", expires_at=now_ms() - 1000)
        ViewerGrant.create(id="live", app=tenant.app_id, user_id="u2", expires_at=now_ms() + 3_600_000)
    queue.enqueue("sweep_grants")  # what the scheduler does every 10 minutes
    worker = recap("worker", "--no-periodic", env=recap_env(Path(app.instance_path)), log=worker_log)
    try:
        with database.connection_context():
            wait_until(lambda: ViewerGrant.get_or_none(ViewerGrant.id == "old") is None, 30, "the expired grant to go")
            assert ViewerGrant.get_or_none(ViewerGrant.id == "live") is not None
            # Its record goes once the chore has returned, a moment after the sweep's own commit.
            wait_until(lambda: JobRecord.get_or_none(JobRecord.id == "chore:sweep_grants") is None, 30,
                       "the chore's record to go (it completed)")
    finally:
        assert stop(worker) == 0, worker_log.read_text()


def test_finished_builds_past_their_keep_days_are_pruned_with_their_chunks(app, tmp_path, worker_log):
    from widget_server.store.models import now_ms

    day = 86_400_000
    with database.connection_context():
        builds = {}
        for name, finished in (("old", now_ms() - 31 * day), ("recent", now_ms() - 29 * day), ("running", None)):
            build = StoryBuild.create(app_id=1, template_id="year-in-music", period_key="2026", now="2026-12-01",
                                      chunks=1, users=2, finished_at=finished)
            BuildChunk.create(build=build, seq=0, users='["u1", "u2"]', state="done" if finished else "queued")
            builds[name] = build.id
    queue_of(app).enqueue("prune_builds")  # what the scheduler does every hour
    worker = recap("worker", "--no-periodic", env=recap_env(Path(app.instance_path)), log=worker_log)
    try:
        with database.connection_context():
            wait_until(lambda: StoryBuild.get_or_none(StoryBuild.id == builds["old"]) is None, 30,
                       "the old build to go")
            assert BuildChunk.select().where(BuildChunk.build == builds["old"]).count() == 0
            kept = {row.id for row in StoryBuild.select()}
            assert kept == {builds["recent"], builds["running"]}  # 29 days, and unfinished, stay
            assert BuildChunk.select().count() == 2
    finally:
        assert stop(worker) == 0, worker_log.read_text()


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_triggers_fan_out_is_taken_before_the_videos_and_builds_that_came_first(tmp_path, backend):
    """A video campaign queues a video per user, a build a chunk per few hundred: a release told to
    its fans (the trigger's event, its chunks, a milestone) waits for none of them, only for what
    someone is waiting for now (a share's images) and the deliveries of chunks already chosen.
    (The demo's release waited a minute behind its five showcase videos, then said 0 notified.)"""
    from contextlib import nullcontext

    from helpers.jobs import redis_server

    with redis_server() if backend == "redis" else nullcontext(None) as url:
        config = {"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True, **({"QUEUE_URL": url} if url else {})}
        queue = queue_of(create_app(config))
        came = [("render_video", "a" * 22), ("build_chunk", 1, 0), ("render_video", "b" * 22),
                ("trigger_event", 1, "new-release", 1, {"key": "k"}), ("trigger_chunk", 1, 0),
                ("trigger_milestone", 1, "lessons", 1, "u1"), ("trigger_deliveries", ["d1"]),
                ("render_share", "c" * 22)]
        for name, *args in came:
            queue.enqueue(name, *args)
        taken = []
        while (task := queue.huey.dequeue()) is not None:
            taken.append(task.name)
        database.close()
    assert taken == ["render_share", "trigger_deliveries", "trigger_event", "trigger_chunk", "trigger_milestone",
                     "render_video", "build_chunk", "render_video"]


def test_readyz_and_metrics_see_the_queue_and_a_lost_redis_is_not_ready(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from helpers.jobs import redis_server
    from helpers.server import LiveServer, http

    def scrape(server) -> dict:
        text = http("GET", server.url + "/metrics").body.decode()
        return {(s.name, tuple(s.labels.values())): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    with redis_server() as url:
        app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True, "QUEUE_URL": url})
        server = LiveServer(app).start()
        try:
            ready = http("GET", server.url + "/readyz")
            assert ready.status == 200, ready.body
            assert ready.json()["checks"]["queue"] == {"ok": True, "backend": "redis", "depth": 0,
                                                       "ms": ready.json()["checks"]["queue"]["ms"]}
            for share_id in ("a" * 22, "b" * 22):  # no worker runs: the jobs wait
                queue_of(app).enqueue("render_share", share_id)
            found = scrape(server)
            assert found[("recap_queue_depth", ())] == 2
            assert found[("recap_jobs_now", ("failed",))] == 0
            port = url.rsplit(":", 1)[1]
        except BaseException:
            server.stop()
            raise
    try:  # the Redis is gone now
        lost = http("GET", server.url + "/readyz", timeout=30)
        assert lost.status == 503
        details = lost.json()["error"]["details"]
        assert details["failing"] == ["queue"]
        assert details["checks"]["queue"]["reason"] == "the redis queue does not answer"
        assert port not in lost.body.decode()  # the queue's address stays in the log
        assert math.isnan(scrape(server)[("recap_queue_depth", ())])  # unknown, not a stale count
    finally:
        server.stop()
        database.close()
