"""Real Celery worker processes (and private Redis servers) for the mail-host operation tests.

A worker is `celery -A mailadmin worker` in its own process, reading the pytest test database and
acting as one mail host (MAILHOST_* settings pointing at a `mailstack` instance)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from mailhost.stack import free_ports, wait_for

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("MAILADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_HINT = (
    "needs Redis at 127.0.0.1:6379 (redis-server --daemonize yes --bind 127.0.0.1 --port 6379)"
)


def require_redis(url: str = REDIS_URL) -> str:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("MAILADMIN_REQUIRE_REDIS") == "1":
            pytest.fail(f"MAILADMIN_REQUIRE_REDIS=1 but Redis does not answer; {REDIS_HINT}")
        pytest.skip(REDIS_HINT)
    return url


@contextlib.contextmanager
def broker(url: str):
    """Make this (test) process send tasks to `url` instead of running them eagerly."""
    from mailadmin.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    _reset_pool(app)
    try:
        yield app
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        _reset_pool(app)


def _reset_pool(app) -> None:
    app._pool = None  # kombu keeps the pool per URL; closing it would break the next user
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None


def database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"
    )


class Worker:
    def __init__(
        self,
        *,
        name: str,
        broker_url: str,
        log_dir: Path,
        stack=None,
        vmail=None,
        extra_env: dict | None = None,
    ):
        self.name = name
        self.node = f"{name}-{uuid.uuid4().hex[:6]}@localhost"
        self.log = log_dir / f"worker-{name}.log"
        env = {
            **os.environ,
            "DEBUG": "1",
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": "",
            "DATABASE_URL": database_url(),
            "MAILHOST_NAME": name,
            "MAILHOST_ROLE": "mail",
            "MAILHOST_POSTFIX_DIR": str(stack.postfix_dir) if stack else "",
            "MAILHOST_DOVECOT_CONF": str(stack.dovecot_conf) if stack else "",
            "MAILHOST_STACK_ROOT": str(stack.root) if stack else "",
            "MAIL_VMAIL_ROOT": str(vmail or (stack.vmail if stack else log_dir / "vmail")),
            "MAILADMIN_OPERATION_RETRY_BASE_SECONDS": "1",
            **(extra_env or {}),
        }
        queues = f"host.{name},mailhost,broadcast,celery"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "--app=mailadmin",
                "worker",
                "--pool=solo",
                f"--hostname={self.node}",
                f"--queues={queues}",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.broker_url = broker_url

    def wait_ready(self, timeout: float = 90) -> None:
        def ready():
            assert self.proc.poll() is None, self.log.read_text()
            return "ready." in self.log.read_text()

        wait_for(ready, timeout=timeout, what=f"worker {self.name} ready")

    def logtext(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class RedisServer:
    """A private redis-server on a free port: the broker-outage test stops and restarts it,
    never the shared one."""

    def __init__(self, workdir: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("needs redis-server (apt-get install redis-server)")
        self.binary = binary
        self.port = free_ports(1)[0]
        self.workdir = workdir
        self.proc = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), timeout=20, what="private redis-server")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def wait_operations(ids, *, timeout: float = 90, states=("done", "failed")):
    from mailhost.models import Operation

    def finished():
        rows = list(Operation.objects.filter(pk__in=ids))
        return len(rows) == len(ids) and all(r.state in states for r in rows) and rows

    return wait_for(finished, timeout=timeout, what=f"operations {sorted(ids)} finished")
