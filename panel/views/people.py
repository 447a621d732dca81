"""Resellers and their pools, and the audit log."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.selectors import reseller_list
from audit.export import csv_lines
from audit.selectors import audit_event_list
from panel.forms import AuditFilterForm, ResellerCreateForm, ResellerEditForm
from panel.once import run_once
from panel.views.common import (
    back,
    htmx_answer,
    is_htmx,
    origin_of,
    page_of,
    posted,
    role_view,
    search_term,
    staff_view,
    try_service,
    wanted_state,
)

POOL_FIELDS = ("name", "active", "max_domains", "max_mailboxes", "max_aliases", "max_quota_bytes")


@role_view("superadmin", "reseller")
def reseller_list_page(request: HttpRequest) -> HttpResponse:
    term = search_term(request, 100).strip()
    resellers = reseller_list(actor=request.user)
    if term:
        resellers = resellers.filter(name__icontains=term)
    return render(
        request, "panel/reseller_list.html", {"page": page_of(request, resellers), "q": term}
    )


@role_view("superadmin")
def reseller_create(request: HttpRequest) -> HttpResponse:
    form = ResellerCreateForm(posted(request))
    if request.method == "POST" and form.is_valid():
        data = form.service_data()

        def create() -> str:
            account_services.reseller_create(origin=origin_of(request), actor=request.user, **data)
            return reverse("reseller_list")

        token = form.cleaned_data["form_token"]
        result = try_service(form, lambda: run_once(request, token, create))
        if result is not None:
            url, replayed = result
            if not replayed:
                messages.success(
                    request, _("The reseller %(name)s was added.") % {"name": data["name"]}
                )
            return redirect(url)
    return render(request, "panel/reseller_form.html", {"form": form, "reseller": None})


@role_view("superadmin")
def reseller_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reseller = get_object_or_404(reseller_list(actor=request.user), pk=pk)
    initial = {f: getattr(reseller, f) for f in POOL_FIELDS}
    form = ResellerEditForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        saved = try_service(
            form,
            lambda: account_services.reseller_update(
                origin=origin_of(request), actor=request.user, reseller=reseller, **data
            ),
        )
        if saved is not None:
            messages.success(request, _("%(name)s was saved.") % {"name": saved.name})
            return redirect("reseller_list")
    return render(request, "panel/reseller_form.html", {"form": form, "reseller": reseller})


@role_view("superadmin")
@require_POST
def reseller_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    reseller = get_object_or_404(reseller_list(actor=request.user), pk=pk)
    reseller = account_services.reseller_update(
        origin=origin_of(request),
        actor=request.user,
        reseller=reseller,
        active=wanted_state(request, reseller.active),
    )
    state = _("active") if reseller.active else _("inactive")
    messages.success(
        request, _("%(name)s is now %(state)s.") % {"name": reseller.name, "state": state}
    )
    if is_htmx(request):
        fresh = reseller_list(actor=request.user).get(pk=pk)
        return htmx_answer(request, "panel/rows/reseller.html", {"reseller": fresh})
    return back(request, reverse("reseller_list"))


def _filtered_events(actor, form: AuditFilterForm):
    """The actor's events under the form's filters; an invalid filter (a bad date) is ignored,
    the form shows why."""
    if not form.is_valid():
        return audit_event_list(actor=actor)
    data = form.cleaned_data
    return audit_event_list(
        actor=actor,
        who=data["actor"],
        search=data["object"],
        action=data["action"],
        object_type=data["object_type"],
        channel=data["channel"],
        domain=data["domain"],
        since=data["since"],
        until=data["until"],
    )


@staff_view
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = _filtered_events(request.user, form)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "panel/audit_log.html",
        {"form": form, "page": page_of(request, events), "query": query.urlencode()},
    )


@staff_view
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered, scoped log as CSV, streamed (audit.export)."""
    events = _filtered_events(request.user, AuditFilterForm(request.GET or None))
    response = StreamingHttpResponse(csv_lines(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response
