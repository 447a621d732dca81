"""Mail hosts and their operations (superadmins only): state, reloads, failed work with its
error and a retry, archived Maildirs with a restore."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mailhost import selectors, services
from mailhost.models import Operation
from panel.views.common import back, origin_of, page_of, role_view


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@role_view("superadmin")
def host_list(request: HttpRequest) -> HttpResponse:
    return render(request, "panel/host_list.html", {"hosts": selectors.host_list()})


@role_view("superadmin")
@require_POST
def host_reload(request: HttpRequest, pk: int) -> HttpResponse:
    host = get_object_or_404(selectors.host_list(), pk=pk)
    push = request.POST.get("push_config") == "1"
    services.reload_request(
        origin=origin_of(request), actor=request.user, host=host, push_config=push
    )
    messages.success(request, _("A reload of %(host)s was queued.") % {"host": host.name})
    return back(request, reverse("operation_list"))


@role_view("superadmin")
@require_POST
def host_reload_all(request: HttpRequest) -> HttpResponse:
    push = request.POST.get("push_config") == "1"
    ops = services.reload_request(
        origin=origin_of(request), actor=request.user, host=None, push_config=push
    )
    messages.success(request, _("%(n)d reloads were queued.") % {"n": len(ops)})
    return back(request, reverse("operation_list"))


@role_view("superadmin")
def operation_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    if state not in Operation.State.values:
        state = ""
    ops = selectors.operation_list(state=state or None)
    return render(
        request,
        "panel/operation_list.html",
        {
            "page": page_of(request, ops),
            "state": state,
            "states": Operation.State.choices,
            "archives": selectors.archive_list()[:50],
        },
    )


@role_view("superadmin")
@require_POST
def operation_retry(request: HttpRequest, pk: int) -> HttpResponse:
    op = get_object_or_404(selectors.operation_list(), pk=pk)
    try:
        services.operation_retry(origin=origin_of(request), actor=request.user, operation=op)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("Operation #%(id)d was sent again.") % {"id": op.pk})
    return back(request, reverse("operation_list"))


@role_view("superadmin")
@require_POST
def archive_restore(request: HttpRequest, pk: int) -> HttpResponse:
    archive = get_object_or_404(selectors.archive_list(), pk=pk)
    try:
        services.archive_restore(origin=origin_of(request), actor=request.user, archive=archive)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request,
            _("The Maildir of %(address)s is being restored.") % {"address": archive.address},
        )
    return redirect("operation_list")
