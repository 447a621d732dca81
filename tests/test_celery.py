"""The project's Celery app against a real Redis broker and a real worker process."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("MAILADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_HINT = (
    "needs Redis at 127.0.0.1:6379 (redis-server --daemonize yes --bind 127.0.0.1 --port 6379)"
)


@pytest.fixture(scope="module")
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("MAILADMIN_REQUIRE_REDIS") == "1":
            pytest.fail(f"MAILADMIN_REQUIRE_REDIS=1 but Redis does not answer; {REDIS_HINT}")
        pytest.skip(REDIS_HINT)
    return REDIS_URL


EXPECTED_TASKS = {
    "mailhost.run_operation",
    "mailhost.sweep",
    "mailhost.heartbeat",
    "mailhost.purge_archives",
    "mailhost.purge_operations",
    "mailhost.quota_check",
    "mailhost.quota_recalc_all",
    "domains.verify_pending",
    "domains.trash_purge_expired",
}


def test_every_beat_entry_names_a_registered_task(settings):
    from mailadmin.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
    assert EXPECTED_TASKS <= set(app.tasks)


def test_without_a_broker_tasks_run_eagerly(settings):
    from mailadmin.celery import app

    assert app.conf.task_always_eager is (not settings.CELERY_BROKER_URL)


def test_a_worker_of_the_project_app_answers_over_redis(redis_url, tmp_path):
    node = f"ci-{uuid.uuid4().hex[:8]}@localhost"
    env = {**os.environ, "CELERY_BROKER_URL": redis_url, "DEBUG": "1"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app=mailadmin",
            "worker",
            "--pool=solo",
            f"--hostname={node}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        from celery import Celery

        client = Celery("mailadmin-test", broker=redis_url)
        deadline = time.monotonic() + 60
        replies = []
        while time.monotonic() < deadline and not replies:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            replies = client.control.ping(destination=[node], timeout=1.0)
        assert replies == [{node: {"ok": "pong"}}], (tmp_path / "worker.log").read_text()
        registered = client.control.inspect(destination=[node], timeout=5).registered()
        assert node in registered
        # The worker runs the project's own tasks (autodiscovered), not just Celery's.
        assert EXPECTED_TASKS <= set(registered[node]), registered[node]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
