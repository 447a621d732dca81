"""Two mail hosts on this machine (two mailstack instances, two worker processes): each host's
queue is snapshotted by its own worker, shown on its own and summed, and a live list or an action
reaches only the host it names."""

from __future__ import annotations

import pytest
import redis

from api.tests.conftest import ApiClient, new_key
from mailhost import queue_services
from mailhost.models import MailHost
from mailhost.queue_models import QueueSnapshot
from mailhost.queue_tasks import queue_snapshot_all
from mailhost.stack import wait_for
from mailhost.tests.conftest import _start
from mailhost.tests.test_queue_stack import settle, submit
from mailhost.tests.test_queue_worker import connected
from mailhost.tests.workers import REDIS_URL, Worker, require_redis, wait_operations

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
    logs = tmp_path_factory.mktemp("qtwo")
    env = {"CELERY_RESULT_BACKEND": url}
    pair = {
        "qa": Worker(name="qa", broker_url=url, log_dir=logs, stack=mail_stack, extra_env=env),
        "qb": Worker(name="qb", broker_url=url, log_dir=logs, stack=second_stack, extra_env=env),
    }
    try:
        for w in pair.values():
            w.wait_ready()
        yield pair
    finally:
        for w in pair.values():
            w.stop()


def test_each_host_shown_on_its_own_and_summed(
    workers, mail_stack, second_stack, superadmin, settings
):
    settings.MAILADMIN_QUEUE_LIST_TIMEOUT = 30
    stacks = {"qa": mail_stack, "qb": second_stack}
    counts = {"qa": 5, "qb": 9}
    for name, stack in stacks.items():
        stack.purge_queue()
        for n in range(counts[name]):
            submit(stack, f"{name}@s.queue.test", [f"r{n}@{name}.remote.test"], n)
        settle(stack, {"deferred": counts[name]})
    try:
        hosts = {
            name: wait_for(
                lambda name=name: MailHost.objects.filter(name=name).first(),
                timeout=30,
                what=f"{name} registered",
            )
            for name in stacks
        }
        url = workers["qa"].broker_url
        with connected(url):
            queue_snapshot_all()
            wait_for(
                lambda: QueueSnapshot.objects.filter(host__in=hosts.values()).count() >= 2,
                timeout=60,
                what="a snapshot from each worker",
            )
            # each host's list comes from its own queue only
            for name, host in hosts.items():
                page = queue_services.queue_page_remote(host=host, filters={})
                assert page["count"] == counts[name]
                assert {m["sender"] for m in page["results"]} == {f"{name}@s.queue.test"}

            # an action for qb changes only qb's queue
            op = queue_services.queue_action_request(
                actor=superadmin, host=hosts["qb"], action="hold", filters={"queue": "deferred"}
            )
            wait_operations([op.pk])
            op.refresh_from_db()
            assert op.state == "done", op.last_error
            settle(second_stack, {"hold": 9})
            settle(mail_stack, {"deferred": 5})

        key = new_key(superadmin, name="root")
        body = ApiClient(key).get("queue/").json()
        shown = {h["name"]: h["summary"]["messages"] for h in body["hosts"] if h["summary"]}
        assert shown["qa"] == 5 and shown["qb"] == 9
        assert body["total"]["messages"] == sum(shown.values())
        domains = {d["domain"] for d in body["total"]["top_domains"]}
        assert {"qa.remote.test", "qb.remote.test"} <= domains
    finally:
        for stack in stacks.values():
            stack.purge_queue()
