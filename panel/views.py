"""The web panel's pages: reads through the selectors, writes through the services."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from domains import selectors

PAGE_SIZE = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.domain_list(actor=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "panel/dashboard.html", {"page": page})


@login_required
def domain_detail(request: HttpRequest, pk: int) -> HttpResponse:
    domain = get_object_or_404(selectors.domain_list(actor=request.user), pk=pk)
    mailboxes = Paginator(selectors.mailbox_list(actor=request.user, domain=domain), PAGE_SIZE)
    aliases = Paginator(selectors.alias_list(actor=request.user, domain=domain), PAGE_SIZE)
    return render(
        request,
        "panel/domain_detail.html",
        {
            "domain": domain,
            "mailboxes": mailboxes.get_page(request.GET.get("mailboxes")),
            "aliases": aliases.get_page(request.GET.get("aliases")),
        },
    )
