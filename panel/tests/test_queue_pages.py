"""The queue pages (superadmins only): overview from snapshots with server-drawn charts, the
live list through the host's worker (here: this process, eager, against the real Postfix), and
actions recorded as outbox operations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Reseller, User
from audit.models import AuditEvent
from mailhost.models import MailHost, Operation
from mailhost.queue_models import QueueSnapshot

pytestmark = pytest.mark.django_db
URL_NAMES = ("queue_overview", "queue_host", "queue_messages", "queue_action")


def snap(host, minutes_ago: int, *, deferred: int, hold: int = 0, domain: str = "x.example"):
    at = (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    age = [deferred + hold] + [0] * 9
    return QueueSnapshot.objects.create(
        host=host,
        taken_at=at,
        deferred=deferred,
        hold=hold,
        messages=deferred + hold,
        recipients=deferred + hold,
        size_bytes=1000 * (deferred + hold),
        age=age,
        detail={
            "top_domains": [{"domain": domain, "total": deferred + hold, "by_age": age}],
            "top_reasons": [{"reason": "deferred transport", "count": deferred}],
            "top_sender_domains": [],
            "age_by_queue": {"deferred": [deferred] + [0] * 9, "hold": [hold] + [0] * 9},
            "oldest_arrival": int(at.timestamp()),
        },
    )


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def url(name: str, host: MailHost) -> str:
    return reverse(name) if name == "queue_overview" else reverse(name, args=[host.pk])


@pytest.fixture
def hosts():
    return [MailHost.objects.create(name=n, last_heartbeat=timezone.now()) for n in ("mx1", "mx2")]


def test_overview_shows_each_host_and_the_sum(superadmin, hosts):
    mx1, mx2 = hosts
    for m in range(30, 0, -1):
        snap(mx1, m, deferred=m, domain="a.example")
        snap(mx2, m, deferred=2 * m, hold=1, domain="b.example")
    page = client_for(superadmin).get(reverse("queue_overview")).content.decode()
    # newest snapshot: mx1 1 deferred, mx2 2 deferred + 1 hold; summed 3 + 1
    assert 'id="queue-hosts"' in page and "mx1" in page and "mx2" in page
    assert "<polyline" in page and page.count("<svg") == 3  # summed + one per host
    assert "a.example" in page and "b.example" in page
    assert "deferred transport" in page
    assert "<script" not in page.split("</head>")[1]  # the charts need no script


def test_overview_queries_do_not_grow_with_hosts(superadmin, hosts):
    for host in hosts:
        snap(host, 1, deferred=3)
    c = client_for(superadmin)
    with CaptureQueriesContext(connection) as two:
        assert c.get(reverse("queue_overview")).status_code == 200
    for n in range(3, 7):
        snap(MailHost.objects.create(name=f"mx{n}"), 1, deferred=n)
    with CaptureQueriesContext(connection) as six:
        assert c.get(reverse("queue_overview")).status_code == 200
    assert len(six) == len(two)


def test_host_page_and_empty_state(superadmin, hosts):
    c = client_for(superadmin)
    page = c.get(reverse("queue_host", args=[hosts[0].pk])).content.decode()
    assert "No snapshot yet" in page
    snap(hosts[0], 2, deferred=5, domain="late.example")
    page = c.get(reverse("queue_host", args=[hosts[0].pk]) + "?hours=24").content.decode()
    assert "late.example" in page and "<svg" in page


@pytest.mark.parametrize("role", ["reseller", "domainadmin"])
def test_only_superadmins(role, hosts):
    pool = Reseller.objects.create(name="Pool") if role == "reseller" else None
    user = User.objects.create_user(username=f"u-{role}", role=role, reseller=pool)
    c = client_for(user)
    for name in URL_NAMES:
        assert c.get(url(name, hosts[0])).status_code in (404, 405), name
        assert c.post(url(name, hosts[0]), {"action": "delete", "queue": "hold"}).status_code == 404
    assert not Operation.objects.exists()
    anonymous = Client().get(reverse("queue_overview"))
    assert anonymous.status_code == 302


def test_an_action_is_recorded_as_an_operation(
    superadmin, hosts, django_capture_on_commit_callbacks
):
    c = client_for(superadmin)
    action = reverse("queue_action", args=[hosts[0].pk])
    with django_capture_on_commit_callbacks(execute=False):
        r = c.post(action, {"action": "hold", "recipient_domain": "x.example", "queue": "deferred"})
    assert r.status_code == 302
    op = Operation.objects.get()
    assert op.kind == "queue_action" and op.host == hosts[0] and op.requested_by == superadmin
    assert op.args == {
        "action": "hold",
        "queue_id": "",
        "filter": {"queue": "deferred", "recipient_domain": "x.example"},
    }
    assert AuditEvent.objects.filter(action="queue.hold").exists()
    with django_capture_on_commit_callbacks(execute=False):
        c.post(action, {"action": "release", "queue_id": "3A9C61C2F3"})
    assert Operation.objects.filter(args__queue_id="3A9C61C2F3").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"action": "delete", "queue_id": "ALL"},
        {"action": "delete", "recipient_domain": "x.example"},  # not confirmed
        {"action": "hold"},  # no id, no filter
        {"action": "hold", "recipient_domain": "not a domain"},
        {"action": "nuke", "queue_id": "3A9C61C2F3"},
    ],
)
def test_bad_actions_do_nothing_and_say_why(superadmin, hosts, body):
    r = client_for(superadmin).post(reverse("queue_action", args=[hosts[0].pk]), body, follow=True)
    assert r.status_code == 200
    assert "Nothing was done" in r.content.decode()
    assert not Operation.objects.exists()


def test_list_of_a_down_host_says_so_at_once(superadmin):
    host = MailHost.objects.create(name="gone", last_heartbeat=timezone.now() - timedelta(days=1))
    page = client_for(superadmin).get(reverse("queue_messages", args=[host.pk])).content.decode()
    assert "gone is down" in page


def test_list_rejects_a_bad_filter_by_field(superadmin, hosts, settings):
    settings.MAILHOST_NAME = ""  # never reached: the filter is refused first
    page = client_for(superadmin).get(
        reverse("queue_messages", args=[hosts[0].pk]) + "?sender_domain=bad%20domain"
    )
    assert page.status_code == 200
    assert "Enter a valid domain name." in page.content.decode()
