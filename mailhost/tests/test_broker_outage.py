"""A broker outage delays operations and loses none: with a private Redis stopped, 50 mailbox
renames are recorded; once it is back, beat's sweep sends them and a real worker runs each
exactly once. (The shared Redis is never touched.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mailhost.models import MailHost, Operation
from mailhost.tests import helpers as h
from mailhost.tests.workers import ROOT, RedisServer, Worker, broker, wait_operations

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
COUNT = 50


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def start_beat(url: str, tmp_path):
    from mailhost.tests.workers import database_url

    log = (tmp_path / "beat.log").open("w")
    env = {
        "DEBUG": "1",
        "CELERY_BROKER_URL": url,
        "DATABASE_URL": database_url(),
        "MAILADMIN_SWEEP_SECONDS": "2",
    }
    import os

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app=mailadmin",
            "beat",
            "--loglevel=INFO",
            f"--schedule={tmp_path / 'beat-schedule'}",
            f"--pidfile={tmp_path / 'beat.pid'}",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_with_redis_stopped_50_changes_all_run_once_after_it_returns(private_redis, tmp_path):
    from domains import services as core

    vmail = tmp_path / "vmail"
    vmail.mkdir()
    worker = Worker(name="outage", broker_url=private_redis.url, log_dir=tmp_path, vmail=vmail)
    beat = None
    try:
        worker.wait_ready()
        MailHost.objects.get_or_create(name="outage")
        domain = h.make_domain()
        boxes = []
        for i in range(COUNT):
            box = h.make_mailbox(f"u{i}@{domain.name}")
            new = vmail / box.maildir / "new"
            new.mkdir(parents=True)
            (new / f"msg-{i}").write_text(f"mail {i}")
            boxes.append(box)

        private_redis.stop()
        with broker(private_redis.url):
            for i, box in enumerate(boxes):
                core.mailbox_rename(actor=None, mailbox=box, address=f"r{i}@{domain.name}")
        ops = list(Operation.objects.filter(kind="maildir_move"))
        assert len(ops) == COUNT
        assert all(op.state == "pending" and op.dispatched_at is None for op in ops)

        private_redis.start()  # same port: the worker reconnects by itself
        beat = start_beat(private_redis.url, tmp_path)
        wait_operations([op.pk for op in ops], timeout=180)

        done = Operation.objects.filter(kind="maildir_move")
        assert set(done.values_list("state", flat=True)) == {"done"}, [
            (o.pk, o.state, o.last_error) for o in done
        ]
        assert set(done.values_list("attempts", flat=True)) == {1}  # none ran twice
        for i in range(COUNT):
            assert (vmail / domain.name / f"r{i}" / "new" / f"msg-{i}").read_text() == f"mail {i}"
            assert not (vmail / domain.name / f"u{i}").exists()
        # A late duplicate message (a sweep racing the first send) changes nothing.
        from mailhost import dispatch

        assert dispatch.enqueue(ops[0].pk) is False
    finally:
        if beat is not None:
            beat.terminate()
            beat.wait(timeout=30)
        worker.stop()
