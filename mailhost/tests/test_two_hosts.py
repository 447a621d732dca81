"""Two mail hosts on this machine (two mailstack instances, two worker processes): each is
registered and shown on its own, and a reload reaches only the host it names, or all."""

from __future__ import annotations

import pytest
import redis

from mailhost.models import MailHost
from mailhost.stack import wait_for
from mailhost.tests import helpers as h
from mailhost.tests.conftest import _start
from mailhost.tests.workers import REDIS_URL, Worker, broker, require_redis, wait_operations

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def second_stack(mail_stack, django_db_blocker):
    stack, stop = _start(django_db_blocker)
    yield stack
    stop()


@pytest.fixture(scope="module")
def workers(mail_stack, second_stack, tmp_path_factory):
    url = require_redis(REDIS_URL)
    redis.Redis.from_url(url).flushdb()
    logs = tmp_path_factory.mktemp("two")
    pair = {
        "mx-a": Worker(name="mx-a", broker_url=url, log_dir=logs, stack=mail_stack),
        "mx-b": Worker(name="mx-b", broker_url=url, log_dir=logs, stack=second_stack),
    }
    try:
        for w in pair.values():
            w.wait_ready()
        yield pair
    finally:
        for w in pair.values():
            w.stop()


def reloads(stack) -> int:
    return len(h.log_lines(stack.postfix_log, "reload"))


def test_two_hosts_register_and_a_reload_reaches_only_the_named_one(
    workers, mail_stack, second_stack
):
    from mailhost import selectors, services
    from mailhost.tasks import heartbeat

    with broker(workers["mx-a"].broker_url):
        heartbeat.apply_async(queue="broadcast")  # what beat sends every 30 s
    wait_for(
        lambda: MailHost.objects.filter(name__in=["mx-a", "mx-b"]).count() == 2,
        timeout=60,
        what="both hosts registered",
    )
    hosts = {host.name: host for host in selectors.host_list()}
    for name, stack in (("mx-a", mail_stack), ("mx-b", second_stack)):
        assert hosts[name].postfix_dir == str(stack.postfix_dir)
        assert hosts[name].postfix_version.startswith("3.")
        assert hosts[name].dovecot_version.startswith("2.")
        assert hosts[name].is_down is False

    a, b = reloads(mail_stack), reloads(second_stack)
    with broker(workers["mx-a"].broker_url):
        (op,) = services.reload_request(actor=None, host=hosts["mx-b"])
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    wait_for(lambda: reloads(second_stack) > b, timeout=20, what="mx-b reloaded")
    assert reloads(mail_stack) == a  # mx-a was not touched

    b = reloads(second_stack)
    with broker(workers["mx-a"].broker_url):
        ops = services.reload_request(actor=None, host=None)  # every host
    assert sorted(o.host.name for o in ops) == ["mx-a", "mx-b"]
    wait_operations([o.pk for o in ops])
    wait_for(lambda: reloads(mail_stack) > a, timeout=20, what="mx-a reloaded")
    wait_for(lambda: reloads(second_stack) > b, timeout=20, what="mx-b reloaded")


def test_a_silent_host_shows_as_down(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.MAILADMIN_HOST_DOWN_SECONDS = 60
    quiet = MailHost.objects.create(
        name="quiet", last_heartbeat=timezone.now() - timedelta(seconds=61)
    )
    alive = MailHost.objects.create(name="alive", last_heartbeat=timezone.now())
    assert quiet.is_down is True
    assert alive.is_down is False
    assert MailHost(name="never").is_down is True
