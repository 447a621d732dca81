"""Snapshot bookkeeping without a mail stack: the purge keeps the configured window, beat's task
routes one snapshot per Postfix host to that host's own queue, series sum hosts per minute."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailhost import queue_services, queue_tasks
from mailhost.models import MailHost
from mailhost.queue_models import QueueSnapshot
from panel.charts import line_chart

pytestmark = pytest.mark.django_db


def at(minutes_ago: int):
    return (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)


def test_purge_keeps_the_configured_window(settings):
    settings.MAILADMIN_QUEUE_SNAPSHOT_KEEP_HOURS = 2
    host = MailHost.objects.create(name="p1")
    for minutes in (10, 119, 121, 600):
        QueueSnapshot.objects.create(host=host, taken_at=at(minutes))
    assert queue_tasks.queue_snapshot_purge() == 2
    kept = sorted(QueueSnapshot.objects.values_list("taken_at", flat=True))
    assert kept == [at(119), at(10)]


def test_beat_routes_one_snapshot_to_each_postfix_host(monkeypatch):
    sent = []
    monkeypatch.setattr(queue_tasks.queue_snapshot, "apply_async", lambda **kw: sent.append(kw))
    mx = MailHost.objects.create(name="a-mx", role="mx")
    mail = MailHost.objects.create(name="b-mail", role="mail")
    MailHost.objects.create(name="c-store", role="store")  # no Postfix: no snapshot
    assert queue_tasks.queue_snapshot_all() == 2
    assert sorted((kw["args"][0], kw["queue"]) for kw in sent) == sorted(
        [(mx.pk, "host.a-mx"), (mail.pk, "host.b-mail")]
    )
    assert all(kw["expires"] == 60 for kw in sent)


def test_a_snapshot_for_another_host_is_refused_here(settings):
    settings.MAILHOST_NAME = "me"
    other = MailHost.objects.create(name="not-me")
    with pytest.raises(queue_services.TransientError):
        queue_services.snapshot_take(host_id=other.pk)
    assert not QueueSnapshot.objects.exists()


def test_series_sum_hosts_per_minute_and_chart():
    h1, h2 = MailHost.objects.create(name="s1"), MailHost.objects.create(name="s2")
    for m in (3, 2, 1):
        QueueSnapshot.objects.create(host=h1, taken_at=at(m), deferred=m, messages=m)
        QueueSnapshot.objects.create(host=h2, taken_at=at(m), deferred=10 * m, messages=10 * m)
    per_host, summed = queue_services.snapshot_series_by_host(hours=1)
    assert [r["deferred"] for r in per_host[h1.pk]] == [3, 2, 1]
    assert [r["deferred"] for r in summed] == [33, 22, 11]
    assert [r["deferred"] for r in queue_services.snapshot_series(hours=1)] == [33, 22, 11]
    chart = line_chart(summed, ("messages", "deferred"))
    assert len(chart.lines) == 2
    assert len(chart.lines[1].points.split()) == 3 and chart.lines[1].last == 11
    assert chart.y_ticks[-1][1] == 50  # rounded up from 33
    assert line_chart([], ("messages",)) is None
