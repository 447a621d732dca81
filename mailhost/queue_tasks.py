"""The Postfix queue's Celery tasks (imported by mailhost/tasks.py, so the worker registers
them). Thin: ids in, a service call. The queue action handler joins the outbox's HANDLERS here."""

from __future__ import annotations

from celery import shared_task

from mailhost import queue_services
from mailhost.models import MailHost, Operation
from mailhost.services import HANDLERS

HANDLERS[Operation.Kind.QUEUE_ACTION] = queue_services._queue_action

LIMITS = {"soft_time_limit": 240, "time_limit": 300}


@shared_task(name="mailhost.queue_snapshot", acks_late=True, **LIMITS)
def queue_snapshot(host_id: int) -> int | None:
    """Runs on the named host's worker (routed to its queue by `queue_snapshot_all`)."""
    snapshot = queue_services.snapshot_take(host_id=host_id)
    return snapshot.pk if snapshot else None


@shared_task(name="mailhost.queue_snapshot_all", acks_late=True, soft_time_limit=50, time_limit=60)
def queue_snapshot_all() -> int:
    """Beat, every minute: one snapshot task per host running Postfix, on that host's queue.
    A message a down host never takes expires after a minute instead of piling up."""
    hosts = MailHost.objects.filter(role__in=[MailHost.Role.MAIL, MailHost.Role.MX])
    count = 0
    for host in hosts:
        queue_snapshot.apply_async(args=[host.pk], queue=host.queue, expires=60)
        count += 1
    return count


@shared_task(name="mailhost.queue_snapshot_purge", acks_late=True, **LIMITS)
def queue_snapshot_purge() -> int:
    return queue_services.snapshot_purge()


@shared_task(name="mailhost.queue_page", soft_time_limit=50, time_limit=60)
def queue_page(host_id: int, filters: dict, page: int, page_size: int) -> dict:
    """A page of this host's live queue, for the panel (which waits for the result). Reads
    only, so it is acknowledged early: a lost one is simply asked again."""
    return queue_services.queue_page_here(
        host_id=host_id, filters=filters, page=page, page_size=page_size
    )
