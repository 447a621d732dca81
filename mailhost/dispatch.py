"""The outbox: record an operation in the caller's transaction, send it after commit, and
re-send what never ran (`sweep`, run by beat). Routing:

- `record(kind, host=h)`      one row, sent to `host.<h.name>` (only that host's worker runs it);
- `record(kind, host=None)`   one row, sent to the shared `mailhost` queue (any host's worker);
- `record_broadcast(kind)`    one row per registered host (filtered by what it runs), each sent to
                              its host's queue: every host runs it, each result is tracked.

The Celery message carries only the operation id; `tasks.run_operation` loads the row.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailhost.models import MailHost, Operation

log = logging.getLogger(__name__)


def record(
    kind: str,
    *,
    host: MailHost | None = None,
    args: dict[str, Any] | None = None,
    mailbox_address: str = "",
    actor: Any = None,
) -> Operation:
    """Write the operation row and send it once the surrounding transaction commits."""
    op = Operation.objects.create(
        kind=kind,
        host=host,
        args=args or {},
        mailbox_address=mailbox_address,
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    transaction.on_commit(lambda: enqueue(op.pk), robust=True)
    return op


def record_broadcast(
    kind: str,
    *,
    hosts=None,
    args: dict[str, Any] | None = None,
    mailbox_address: str = "",
    actor: Any = None,
) -> list[Operation]:
    """One operation per host (default: every registered host); none registered: one for any."""
    hosts = list(MailHost.objects.all() if hosts is None else hosts)
    if not hosts:
        return [record(kind, args=args, mailbox_address=mailbox_address, actor=actor)]
    return [
        record(kind, host=h, args=args, mailbox_address=mailbox_address, actor=actor) for h in hosts
    ]


def enqueue(operation_id: int) -> bool:
    """Send the task for one operation. A broker that does not answer is logged, not raised: the
    row stays pending and `sweep` sends it later."""
    from mailhost.tasks import run_operation

    op = Operation.objects.select_related("host").filter(pk=operation_id).first()
    if op is None or not op.unfinished:
        return False
    try:
        run_operation.apply_async(
            args=[op.pk],
            queue=op.queue,
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2},
        )
    except Exception as exc:  # kombu raises OperationalError and friends when Redis is down
        log.warning("operation %s not sent (the sweep will retry): %s", op.pk, exc)
        return False
    Operation.objects.filter(pk=op.pk, dispatched_at__isnull=True).update(
        dispatched_at=timezone.now()
    )
    return True


def sweep() -> int:
    """Send again every pending operation never sent, or sent longer than
    MAILADMIN_OPERATION_RESEND_SECONDS ago without running (a lost message). Running it twice is
    harmless: a worker runs an operation only while it is unfinished (`services.operation_run`)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.MAILADMIN_OPERATION_RESEND_SECONDS)
    # Rows younger than a few seconds still have their own on_commit send on the way.
    young = now - timedelta(seconds=5)
    ids = list(
        Operation.objects.filter(state=Operation.State.PENDING, created__lt=young)
        .filter(dispatched_at__isnull=True)
        .values_list("pk", flat=True)
        .union(
            Operation.objects.filter(
                state=Operation.State.PENDING, dispatched_at__lt=stale
            ).values_list("pk", flat=True)
        )
    )
    sent = 0
    for pk in sorted(ids):
        if enqueue(pk):
            Operation.objects.filter(pk=pk).update(dispatched_at=timezone.now())
            sent += 1
    return sent
