"""Reads for the hosts and operations pages and the API (superadmin only: callers check)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from mailhost.models import ArchivedMaildir, MailHost, Operation


def host_list() -> QuerySet[MailHost]:
    """Hosts with their count of unfinished and failed operations (one query)."""
    return MailHost.objects.annotate(
        pending_count=Count("operations", filter=Q(operations__state__in=["pending", "running"])),
        failed_count=Count("operations", filter=Q(operations__state="failed")),
    ).order_by("name")


def operation_list(*, state: str | None = None, host: MailHost | None = None) -> QuerySet:
    qs = Operation.objects.select_related("host", "requested_by").order_by("-created", "-id")
    if state:
        qs = qs.filter(state=state)
    if host is not None:
        qs = qs.filter(host=host)
    return qs


def archive_list() -> QuerySet[ArchivedMaildir]:
    return ArchivedMaildir.objects.select_related("host").filter(
        purged_at__isnull=True, restored_at__isnull=True
    )
