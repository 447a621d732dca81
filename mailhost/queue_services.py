"""The Postfix queue as the panel and the API see it: snapshots (taken on each host's worker,
read by the pages), the live list (asked of the host's worker) and actions (outbox operations,
run by the host's worker). The reading and the commands are in mailhost/queue.py."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone

from audit import diff
from audit.origin import Origin
from audit.services import audit_record
from mailhost import dispatch, queue
from mailhost.models import MailHost, Operation
from mailhost.queue_models import QueueSnapshot
from mailhost.services import OperationFailed, TransientError, _host_paths

SERIES_FIELDS = ("messages", *QueueSnapshot.QUEUE_FIELDS)


class QueueUnavailable(Exception):
    """The host's worker did not answer in time (down, busy, or no broker)."""


def as_validation_error(exc: queue.QueueInputError) -> ValidationError:
    return ValidationError({exc.field: [exc.message]})


# --- on the host's worker ----------------------------------------------------------------------


def _postfix_dir_here(host: MailHost) -> str:
    """This worker's Postfix directory, refusing work meant for another host."""
    if host.name != settings.MAILHOST_NAME:
        raise TransientError(f"work for {host.name} reached {settings.MAILHOST_NAME or 'no host'}")
    if not settings.MAILHOST_POSTFIX_DIR:
        raise OperationFailed("This host has no MAILHOST_POSTFIX_DIR: it runs no Postfix.")
    return settings.MAILHOST_POSTFIX_DIR


def snapshot_take(*, host_id: int, now: datetime | None = None) -> QueueSnapshot | None:
    """Summarise this host's queue (one streamed pass) and store it as this minute's snapshot;
    a second run in the same minute replaces it. Monitoring data, not a change: not audited."""
    host = MailHost.objects.filter(pk=host_id).first()
    if host is None:
        return None
    postfix_dir = _postfix_dir_here(host)
    now = now or timezone.now()
    summary = queue.summarise(queue.entries(postfix_dir), now=now.timestamp())
    data = summary.as_dict(top=20)
    minute = now.replace(second=0, microsecond=0)
    snapshot, _ = QueueSnapshot.objects.update_or_create(
        host=host,
        taken_at=minute,
        defaults={
            **{q: summary.by_queue[q] for q in QueueSnapshot.QUEUE_FIELDS},
            "messages": summary.messages,
            "recipients": summary.recipients,
            "size_bytes": summary.size_bytes,
            "age": summary.age_totals,
            "detail": {
                k: data[k]
                for k in ("top_domains", "top_sender_domains", "top_reasons", "oldest_arrival")
            }
            | {"age_by_queue": data["age_by_queue"]},
        },
    )
    return snapshot


def queue_page_here(*, host_id: int, filters: dict[str, str], page: int, page_size: int) -> dict:
    host = MailHost.objects.get(pk=host_id)
    flt = queue.QueueFilter.build(**filters)
    result = queue.queue_page(
        queue.entries(_postfix_dir_here(host)), flt, page=page, page_size=page_size
    )
    return result.as_dict()


def _queue_action(op: Operation) -> str:
    """The outbox handler: run one queue action on this host."""
    postfix_dir, _ = _host_paths(op)
    if not postfix_dir:
        raise OperationFailed("This host has no MAILHOST_POSTFIX_DIR: it runs no Postfix.")
    args = op.args
    try:
        flt = queue.QueueFilter.build(**args["filter"]) if args.get("filter") else None
        result = queue.run_action(
            postfix_dir, action=args["action"], queue_id=args.get("queue_id", ""), flt=flt
        )
    except queue.QueueInputError as exc:
        raise OperationFailed(f"{exc.field}: {exc.message}") from exc
    except queue.QueueError as exc:
        raise OperationFailed(str(exc)) from exc
    changed = "" if result.affected is None else f", {result.affected} changed"
    return f"{result.action}: {result.selected} selected{changed}\n{result.output}".strip()


def snapshot_purge(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(hours=settings.MAILADMIN_QUEUE_SNAPSHOT_KEEP_HOURS)
    deleted, _ = QueueSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    return deleted


# --- on the panel --------------------------------------------------------------------------------


def queue_action_request(
    *,
    actor: Any,
    host: MailHost,
    action: str,
    queue_id: str = "",
    filters: dict[str, str] | None = None,
    origin: Origin | None = None,
) -> Operation:
    """Validate a queue action and record it as an operation for `host` (sent after commit).
    Exactly one of `queue_id` and a non-empty filter; flush alone may name neither (all)."""
    try:
        if action not in queue.ACTIONS:
            raise queue.QueueInputError("action", "Unknown action.")
        qid = queue.validate_queue_id(queue_id) if queue_id else ""
        flt = queue.QueueFilter.build(**(filters or {}))
    except queue.QueueInputError as exc:
        raise as_validation_error(exc) from exc
    if qid and not flt.is_empty():
        raise ValidationError({"queue_id": ["Name one queue id or a filter, not both."]})
    if not qid and flt.is_empty() and action != "flush":
        raise ValidationError({"filter": ["Choose a queue id or at least one filter."]})
    if not host.runs_postfix:
        raise ValidationError({"host": ["This host runs no Postfix."]})
    args = {"action": action, "queue_id": qid, "filter": flt.as_dict()}
    with transaction.atomic():
        op = dispatch.record(Operation.Kind.QUEUE_ACTION, host=host, args=args, actor=actor)
        audit_record(
            actor=actor,
            action=f"queue.{action}",
            obj=op,
            changes=diff.created(args),
            origin=origin,
        )
    return op


def queue_page_remote(
    *, host: MailHost, filters: dict[str, str], page: int = 1, page_size: int = 50
) -> dict:
    """One page of `host`'s live queue, asked of its worker (the panel cannot see the queue).
    Input is validated here first, so a bad filter never travels."""
    from mailhost.queue_tasks import queue_page

    try:
        queue.QueueFilter.build(**filters)
        if page < 1:
            raise queue.QueueInputError("page", "Pages start at 1.")
        if not 1 <= page_size <= queue.MAX_PAGE_SIZE:
            raise queue.QueueInputError("page_size", f"Between 1 and {queue.MAX_PAGE_SIZE}.")
    except queue.QueueInputError as exc:
        raise as_validation_error(exc) from exc
    if host.is_down:
        # Its worker would not answer: say so now rather than after the timeout.
        raise QueueUnavailable(f"{host.name} is down: its worker has not reported recently.")
    timeout = settings.MAILADMIN_QUEUE_LIST_TIMEOUT
    try:
        result = queue_page.apply_async(
            args=[host.pk, filters, page, page_size], queue=host.queue, expires=timeout
        )
        try:
            return result.get(timeout=timeout, propagate=True)
        finally:
            with contextlib.suppress(Exception):  # the page is read once: drop it from Redis
                result.forget()
    except (OperationFailed, TransientError, queue.QueueError) as exc:
        raise QueueUnavailable(str(exc)) from exc
    except Exception as exc:  # broker down, timeout, no result backend: say so, never a 500
        raise QueueUnavailable(f"{host.name} did not answer: {type(exc).__name__}: {exc}") from exc


# --- reads (selectors) -----------------------------------------------------------------------


def hosts_with_latest_snapshot() -> list[tuple[MailHost, QueueSnapshot | None]]:
    """Every host running Postfix with its newest snapshot: two queries whatever the count."""
    newest = QueueSnapshot.objects.filter(host=OuterRef("pk")).order_by("-taken_at").values("pk")
    hosts = list(
        MailHost.objects.filter(role__in=[MailHost.Role.MAIL, MailHost.Role.MX]).annotate(
            newest_snapshot=Subquery(newest[:1])
        )
    )
    snapshots = QueueSnapshot.objects.in_bulk(
        [h.newest_snapshot for h in hosts if h.newest_snapshot]
    )
    return [(h, snapshots.get(h.newest_snapshot)) for h in hosts]


def snapshot_as_summary(snapshot: QueueSnapshot | None) -> dict:
    """A snapshot in the shape of `queue.QueueSummary.as_dict()` (so hosts can be summed)."""
    if snapshot is None:
        return queue.merge_summaries([])
    detail = snapshot.detail or {}
    return {
        "taken_at": int(snapshot.taken_at.timestamp()),
        "messages": snapshot.messages,
        "recipients": snapshot.recipients,
        "size_bytes": snapshot.size_bytes,
        "oldest_arrival": detail.get("oldest_arrival"),
        "by_queue": {q: getattr(snapshot, q) for q in queue.QUEUE_NAMES},
        "age_buckets": list(queue.AGE_LABELS),
        "age_totals": list(snapshot.age),
        "age_by_queue": detail.get("age_by_queue", {}),
        "top_domains": detail.get("top_domains", []),
        "top_sender_domains": detail.get("top_sender_domains", []),
        "top_reasons": detail.get("top_reasons", []),
    }


def snapshot_series(*, host: MailHost | None = None, hours: int = 6) -> list[dict]:
    """Per minute over the last `hours`: the counts of one host, or summed over all hosts."""
    since = timezone.now() - timedelta(hours=hours)
    rows = QueueSnapshot.objects.filter(taken_at__gte=since)
    if host is not None:
        rows = rows.filter(host=host)
    return list(
        rows.values("taken_at").annotate(**{f: Sum(f) for f in SERIES_FIELDS}).order_by("taken_at")
    )


def snapshot_series_by_host(*, hours: int = 6) -> tuple[dict[int, list[dict]], list[dict]]:
    """Per minute over the last `hours`, in one query: each host's rows, and their sum."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        QueueSnapshot.objects.filter(taken_at__gte=since)
        .order_by("taken_at", "host_id")
        .values("host_id", "taken_at", *SERIES_FIELDS)
    )
    per_host: dict[int, list[dict]] = {}
    summed: dict[datetime, dict] = {}
    for row in rows.iterator(chunk_size=2000):
        per_host.setdefault(row["host_id"], []).append(row)
        total = summed.setdefault(
            row["taken_at"], {"taken_at": row["taken_at"], **dict.fromkeys(SERIES_FIELDS, 0)}
        )
        for f in SERIES_FIELDS:
            total[f] += row[f]
    return per_host, list(summed.values())
