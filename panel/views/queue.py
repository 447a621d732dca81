"""The Postfix queue of the mail hosts (superadmins only): the overview from the per-minute
snapshots, each host's live list with search and pages, and actions (outbox operations)."""

from datetime import UTC, datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mailhost import queue as mailqueue
from mailhost import queue_services
from mailhost.models import MailHost
from panel.charts import line_chart
from panel.forms import QueueActionForm, QueueFilterForm, add_service_errors
from panel.views.common import back, origin_of, role_view

CHART_FIELDS = ("messages", "deferred", "active", "incoming", "hold")
HOURS = (1, 6, 24, 48)
PAGE_SIZE = 50


def _hours(request: HttpRequest) -> int:
    try:
        hours = int(request.GET.get("hours", 6))
    except ValueError:
        return 6
    return hours if hours in HOURS else 6


def _qshape(summary: dict) -> dict:
    """What the qshape-like tables need from a summary (as_dict shape)."""
    oldest = summary.get("oldest_arrival")
    return {
        "summary": summary,
        "buckets": mailqueue.AGE_LABELS,
        "queues": [(q, summary["by_queue"].get(q, 0)) for q in mailqueue.QUEUE_NAMES],
        "age_rows": [
            (q, sum(row), row) for q, row in summary.get("age_by_queue", {}).items() if sum(row)
        ],
        "oldest": datetime.fromtimestamp(oldest, tz=UTC) if oldest else None,
    }


def _host(pk: int) -> MailHost:
    return get_object_or_404(MailHost, pk=pk)


@role_view("superadmin")
def queue_overview(request: HttpRequest) -> HttpResponse:
    hours = _hours(request)
    latest = queue_services.hosts_with_latest_snapshot()
    per_host, summed = queue_services.snapshot_series_by_host(hours=hours)
    summaries = [queue_services.snapshot_as_summary(s) for _h, s in latest]
    hosts = [
        {
            "host": host,
            "snapshot": snap,
            "summary": summary,
            "chart": line_chart(per_host.get(host.pk, []), CHART_FIELDS),
        }
        for (host, snap), summary in zip(latest, summaries, strict=True)
    ]
    total = mailqueue.merge_summaries([h["summary"] for h in hosts if h["snapshot"]])
    context = {
        "hosts": hosts,
        "total": _qshape(total),
        "chart": line_chart(summed, CHART_FIELDS),
        "hours": hours,
        "hour_choices": HOURS,
        "chart_fields": CHART_FIELDS,
    }
    return render(request, "panel/queue_overview.html", context)


@role_view("superadmin")
def queue_host(request: HttpRequest, pk: int) -> HttpResponse:
    host = _host(pk)
    hours = _hours(request)
    snapshot = host.queue_snapshots.order_by("-taken_at").first()
    rows = queue_services.snapshot_series(host=host, hours=hours)
    context = {
        "host": host,
        "snapshot": snapshot,
        "total": _qshape(queue_services.snapshot_as_summary(snapshot)),
        "chart": line_chart(rows, CHART_FIELDS),
        "hours": hours,
        "hour_choices": HOURS,
        "chart_fields": CHART_FIELDS,
    }
    return render(request, "panel/queue_host.html", context)


@role_view("superadmin")
def queue_messages(request: HttpRequest, pk: int) -> HttpResponse:
    host = _host(pk)
    form = QueueFilterForm(request.GET)
    page_data, error = None, ""
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    if host.is_down:
        error = _("%(host)s is down: its worker has not reported recently.") % {"host": host.name}
    elif form.is_valid():
        try:
            page_data = queue_services.queue_page_remote(
                host=host, filters=form.filters(), page=number, page_size=PAGE_SIZE
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except queue_services.QueueUnavailable as exc:
            error = str(exc)
    filters = form.filters() if form.is_valid() and not form.errors else {}
    context = {
        "host": host,
        "form": form,
        "page": page_data,
        "error": error,
        "filters": filters,
        "action_choices": QueueActionForm.base_fields["action"].choices,
        "here": request.get_full_path(),
    }
    if page_data:
        context["previous"] = number - 1 if number > 1 else None
        context["next"] = number + 1 if number < page_data["pages"] else None
        for item in page_data["results"]:
            item["arrival"] = datetime.fromtimestamp(item["arrival_time"], tz=UTC)
    return render(request, "panel/queue_messages.html", context)


@role_view("superadmin")  # first: anyone else gets the 404 of a missing page, even on GET
@require_POST
def queue_action(request: HttpRequest, pk: int) -> HttpResponse:
    host = _host(pk)
    form = QueueActionForm(request.POST)
    default = reverse("queue_messages", args=[host.pk])
    if form.is_valid():
        try:
            op = queue_services.queue_action_request(
                origin=origin_of(request),
                actor=request.user,
                host=host,
                action=form.cleaned_data["action"],
                queue_id=form.cleaned_data["queue_id"],
                filters=form.filters(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(action)s on %(host)s was queued as operation #%(id)s.")
                % {"action": op.args["action"], "host": host.name, "id": op.pk},
            )
            return back(request, default)
    errors = "; ".join(
        f"{form.fields[f].label if f in form.fields else f}: {' '.join(e)}"
        if f != "__all__"
        else " ".join(e)
        for f, e in form.errors.items()
    )
    messages.error(request, _("Nothing was done: %(errors)s") % {"errors": errors})
    return back(request, default)
