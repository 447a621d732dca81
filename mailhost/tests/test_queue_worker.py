"""The queue through a real Celery worker acting as the mail host (real Redis broker and result
backend, the real Postfix of `mailstack`): the per-minute snapshot lands in the database, the live
list comes back from the host, and actions run as outbox operations."""

from __future__ import annotations

import contextlib

import pytest
import redis
from django.core.exceptions import ValidationError

from mailhost import queue, queue_services
from mailhost.models import MailHost, Operation
from mailhost.queue_models import QueueSnapshot
from mailhost.queue_tasks import queue_snapshot_all
from mailhost.stack import wait_for
from mailhost.tests.test_queue_stack import settle, stream, submit
from mailhost.tests.workers import REDIS_URL, Worker, broker, require_redis, wait_operations

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]
NAME = "qmx1"


@pytest.fixture(scope="module")
def worker(mail_stack, tmp_path_factory):
    url = require_redis(REDIS_URL)
    redis.Redis.from_url(url).flushdb()
    w = Worker(
        name=NAME,
        broker_url=url,
        log_dir=tmp_path_factory.mktemp("qw"),
        stack=mail_stack,
        extra_env={"CELERY_RESULT_BACKEND": url},
    )
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()


@contextlib.contextmanager
def connected(url: str):
    """Send tasks to the worker and read their results from the same Redis."""
    with broker(url) as app:
        saved = app.conf.result_backend
        app.conf.result_backend = url
        forget_backend(app)
        try:
            yield app
        finally:
            app.conf.result_backend = saved
            forget_backend(app)


def forget_backend(app) -> None:
    """Celery caches the result backend object; drop it so the next use reads the setting."""
    app._backend_cache = None
    with contextlib.suppress(AttributeError):
        del app._local.backend


@pytest.fixture
def queued(mail_stack):
    mail_stack.purge_queue()
    for n in range(12):
        domain = "x.remote.test" if n < 8 else "y.remote.test"
        submit(mail_stack, "ops@s.queue.test", [f"r{n}@{domain}"], n)
    settle(mail_stack, {"deferred": 12})
    yield mail_stack
    mail_stack.purge_queue()


def the_host() -> MailHost:
    return wait_for(
        lambda: MailHost.objects.filter(name=NAME).first(), timeout=30, what="host registered"
    )


def test_snapshot_list_and_actions_through_the_worker(worker, queued, superadmin, settings):
    settings.MAILADMIN_QUEUE_LIST_TIMEOUT = 30
    host = the_host()
    with connected(worker.broker_url):
        # beat's task routes one snapshot to the host's own queue
        assert queue_snapshot_all() >= 1
        snap = wait_for(
            lambda: QueueSnapshot.objects.filter(host=host).first(),
            timeout=60,
            what="snapshot from the worker",
        )
        assert snap.messages == 12 and snap.deferred + snap.active == 12
        domains = {d["domain"]: d["total"] for d in snap.detail["top_domains"]}
        assert domains == {"x.remote.test": 8, "y.remote.test": 4}

        # the live list, asked of the host's worker
        page = queue_services.queue_page_remote(
            host=host, filters={"recipient_domain": "y.remote.test"}, page=1, page_size=3
        )
        assert page["count"] == 4 and len(page["results"]) == 3
        with pytest.raises(ValidationError) as exc:
            queue_services.queue_page_remote(host=host, filters={"queue": "nope"})
        assert "queue" in exc.value.message_dict

        # an action on a filter, as an outbox operation run by the worker
        op = queue_services.queue_action_request(
            actor=superadmin,
            host=host,
            action="hold",
            filters={"recipient_domain": "x.remote.test"},
        )
        wait_operations([op.pk])
        op.refresh_from_db()
        assert op.state == "done", (op.last_error, worker.logtext())
        assert "8 changed" in op.output
        settle(queued, {"hold": 8, "deferred": 4})

        # and on one id
        held = next(e.queue_id for e in stream(queued) if e.queue_name == "hold")
        op = queue_services.queue_action_request(
            actor=superadmin, host=host, action="delete", queue_id=held
        )
        wait_operations([op.pk])
        op.refresh_from_db()
        assert op.state == "done", op.last_error
        settle(queued, {"hold": 7, "deferred": 4})
    assert Operation.objects.filter(kind="queue_action", requested_by=superadmin).count() == 2


def test_a_host_without_a_worker_is_reported_not_raised(worker, settings):
    settings.MAILADMIN_QUEUE_LIST_TIMEOUT = 2
    silent = MailHost.objects.create(name="qmx-silent")
    with connected(worker.broker_url):
        with pytest.raises(queue_services.QueueUnavailable, match="qmx-silent"):
            queue_services.queue_page_remote(host=silent, filters={})


def test_bad_actions_are_refused_before_anything_is_recorded(superadmin):
    host = MailHost.objects.create(name="qmx-any")
    cases = [
        ({"action": "explode", "queue_id": "ABCDEF123"}, "action"),
        ({"action": "delete", "queue_id": "ALL"}, "queue_id"),
        ({"action": "delete"}, "filter"),
        ({"action": "hold", "filters": {"recipient_domain": "bad domain"}}, "recipient_domain"),
        ({"action": "hold", "queue_id": "ABCDEF123", "filters": {"queue": "hold"}}, "queue_id"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as exc:
            queue_services.queue_action_request(actor=superadmin, host=host, **kwargs)
        assert field in exc.value.message_dict, (kwargs, exc.value)
    assert not Operation.objects.exists()
    assert queue.ACTIONS  # every action name is one the service knows
