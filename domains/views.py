"""Thin read-only pages; writes arrive with the full web UI and go through domains.services."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from domains import selectors, verification

PAGE_SIZE = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.domain_list(actor=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "domains/dashboard.html", {"page": page})


@login_required
def domain_detail(request: HttpRequest, pk: int) -> HttpResponse:
    domain = get_object_or_404(selectors.domain_list(actor=request.user), pk=pk)
    mailboxes = Paginator(selectors.mailbox_list(actor=request.user, domain=domain), PAGE_SIZE)
    aliases = Paginator(selectors.alias_list(actor=request.user, domain=domain), PAGE_SIZE)
    return render(
        request,
        "domains/domain_detail.html",
        {
            "domain": domain,
            "verification_record": {
                "name": verification.record_name(domain.name),
                "value": verification.record_value(domain.verification_token),
            },
            "mailboxes": mailboxes.get_page(request.GET.get("mailboxes")),
            "aliases": aliases.get_page(request.GET.get("aliases")),
        },
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
