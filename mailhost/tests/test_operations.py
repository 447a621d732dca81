"""Mail-host operations end to end: a real Redis broker, a real Celery worker process acting as
the mail host, the real Postfix and Dovecot of `mailstack`."""

from __future__ import annotations

import pytest
import redis

from mailhost.models import MailHost, Operation
from mailhost.stack import wait_for
from mailhost.tests import helpers as h
from mailhost.tests.workers import REDIS_URL, Worker, broker, require_redis, wait_operations

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker(mail_stack, tmp_path_factory):
    url = require_redis(REDIS_URL)
    redis.Redis.from_url(url).flushdb()  # this run's own Redis database: no stale messages
    w = Worker(name="mx1", broker_url=url, log_dir=tmp_path_factory.mktemp("w"), stack=mail_stack)
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()


def host(name="mx1") -> MailHost:
    return MailHost.objects.get_or_create(name=name)[0]


def reloads(path) -> int:
    return len(h.log_lines(path, "reload"))


def services():
    from mailhost import services

    return services


def test_a_reload_reaches_the_host_and_postfix_rereads_its_config(worker, mail_stack):
    before = reloads(mail_stack.postfix_log)
    with broker(worker.broker_url):
        (op,) = services().reload_request(actor=None, host=host())
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", (op.last_error, worker.logtext())
    assert op.attempts == 1
    wait_for(
        lambda: reloads(mail_stack.postfix_log) > before, timeout=20, what="postfix reload logged"
    )


def test_a_broken_config_is_reported_verbatim_and_nothing_is_reloaded(worker, mail_stack):
    conf = mail_stack.dovecot_conf
    original = conf.read_text()
    postfix_before = reloads(mail_stack.postfix_log)
    dovecot_before = len(h.log_lines(mail_stack.dovecot_log, "reloading configuration"))
    conf.write_text(original + "\nnot_a_dovecot_setting = 1\n")
    try:
        with broker(worker.broker_url):
            (op,) = services().reload_request(actor=None, host=host())
        wait_operations([op.pk])
    finally:
        conf.write_text(original)
    op.refresh_from_db()
    assert op.state == "failed"
    assert "doveconf -n failed" in op.last_error
    assert "not_a_dovecot_setting" in op.last_error  # doveconf's own words
    assert reloads(mail_stack.postfix_log) == postfix_before
    assert len(h.log_lines(mail_stack.dovecot_log, "reloading configuration")) == dovecot_before
    # Fixed, it can be retried from the record and goes through.
    with broker(worker.broker_url):
        services().operation_retry(actor=None, operation=op)
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    assert Operation.objects.get(pk=op.pk).attempts == 2
