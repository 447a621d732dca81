"""Dashboard, domains, the domain page and alias domains."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.selectors import reseller_list
from audit.selectors import audit_event_list
from domains import selectors, services
from domains.models import Domain
from domains.normalize import normalize_domain
from panel.forms import (
    AliasDomainForm,
    DomainCreateForm,
    DomainDeleteForm,
    DomainLimitsForm,
)
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

DOMAIN_SORTS = {
    "name": "name",
    "-name": "-name",
    "mailboxes": "-mailbox_count",
    "aliases": "-alias_count",
    "created": "-created",
}


def can_administer(user) -> bool:
    return user.is_superadmin or user.is_reseller


@staff_view
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = request.user
    pool = None
    if actor.is_reseller:
        pool = reseller_list(actor=actor).first()
    return render(
        request,
        "panel/dashboard.html",
        {
            "usage": selectors.scope_usage(actor=actor),
            "pool": pool,
            "near_limits": selectors.domains_near_limits(actor=actor)[:10],
            "near_quota": selectors.mailboxes_near_quota(actor=actor)[:10],
            # Mailboxes warned at 80 % / 95 % (mailhost.QuotaWarning, set by the beat check).
            "quota_warned": selectors.mailbox_list(actor=actor)
            .filter(quota_warning__level__gte=80)
            .select_related("quota_warning")
            .order_by("-quota_warning__level", "address")[:10],
            "recent": audit_event_list(actor=actor)[:10],
        },
    )


def search_domains(queryset, term: str):
    """Names are stored as A-labels: a Unicode term matches its A-label form exactly and any
    name or description that contains it as typed."""
    term = term.strip()
    if not term:
        return queryset
    match = Q(name__icontains=term) | Q(description__icontains=term)
    try:
        match |= Q(name=normalize_domain(term))
    except ValidationError:  # a fragment that is no domain name adds nothing
        pass
    return queryset.filter(match)


@staff_view
def domain_list(request: HttpRequest) -> HttpResponse:
    term = search_term(request, 253)
    sort = request.GET.get("sort", "name")
    order = DOMAIN_SORTS.get(sort, "name")
    domains = search_domains(selectors.domain_list(actor=request.user), term).order_by(
        order, "name"
    )
    return render(
        request,
        "panel/domain_list.html",
        {
            "page": page_of(request, domains),
            "q": term,
            "sort": sort if sort in DOMAIN_SORTS else "name",
            "sorts": DOMAIN_SORTS,
            "can_administer": can_administer(request.user),
        },
    )


@role_view("superadmin", "reseller")
def domain_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    resellers = reseller_list(actor=actor) if actor.is_superadmin else None
    form = DomainCreateForm(posted(request), resellers=resellers)
    if request.method == "POST" and form.is_valid():
        data = form.service_data()

        def create() -> str:
            domain = services.domain_create(origin=origin_of(request), actor=actor, **data)
            return reverse("domain_detail", args=[domain.pk])

        result = try_service(
            form, lambda: run_once(request, form.cleaned_data["form_token"], create)
        )
        if result is not None:
            url, replayed = result
            if not replayed:
                messages.success(
                    request, _("The domain %(name)s was added.") % {"name": data["name"]}
                )
            return redirect(url)
    return render(request, "panel/domain_form.html", {"form": form, "domain": None})


@staff_view
def domain_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = get_object_or_404(selectors.domain_page(actor=actor), pk=pk)
    term = search_term(request, 320).strip()
    mailboxes = selectors.mailbox_list(actor=actor, domain=domain).prefetch_related("forwards")
    aliases = selectors.alias_list(actor=actor, domain=domain)
    if term:
        mailboxes = mailboxes.filter(Q(address__icontains=term) | Q(name__icontains=term))
        aliases = aliases.filter(Q(address__icontains=term) | Q(description__icontains=term))
    return render(
        request,
        "panel/domain_detail.html",
        {
            "domain": domain,
            "q": term,
            "mailboxes": page_of(request, mailboxes, "mailboxes"),
            "aliases": page_of(request, aliases, "aliases"),
            "alias_domains": selectors.alias_domain_list(actor=actor)
            .filter(target=domain)
            .order_by("name")[:200],
            "grants": selectors.sender_grant_list(actor=actor)
            .filter(mailbox__domain=domain)
            .order_by("mailbox__address", "local_part")[:200],
            "can_administer": can_administer(actor),
            "alias_domain_form": AliasDomainForm(),
        },
    )


@staff_view
def domain_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = get_object_or_404(selectors.domain_list(actor=actor), pk=pk)
    initial = {f: getattr(domain, f) for f in DomainLimitsForm.base_fields}
    form = DomainLimitsForm(posted(request), initial=initial, can_administer=can_administer(actor))
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        if (
            try_service(
                form,
                lambda: services.domain_update(
                    origin=origin_of(request), actor=actor, domain=domain, **data
                ),
            )
            is not None
        ):
            messages.success(request, _("%(name)s was saved.") % {"name": domain.display_name})
            return redirect("domain_detail", pk=domain.pk)
    return render(request, "panel/domain_form.html", {"form": form, "domain": domain})


@role_view("superadmin", "reseller")
@require_POST
def domain_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = get_object_or_404(selectors.domain_list(actor=actor), pk=pk)
    domain = services.domain_update(
        origin=origin_of(request),
        actor=actor,
        domain=domain,
        active=wanted_state(request, domain.active),
    )
    state = _("active") if domain.active else _("inactive")
    messages.success(
        request, _("%(name)s is now %(state)s.") % {"name": domain.display_name, "state": state}
    )
    if is_htmx(request):
        domain = selectors.domain_list(actor=actor).get(pk=pk)
        return htmx_answer(
            request, "panel/rows/domain.html", {"domain": domain, "can_administer": True}
        )
    return back(request, reverse("domain_list"))


@role_view("superadmin", "reseller", "domainadmin")
@require_POST
def domain_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """Check now for the domain's TXT record (a superadmin may also verify without DNS)."""
    actor = request.user
    domain = get_object_or_404(selectors.domain_list(actor=actor), pk=pk)
    force = request.POST.get("force") == "1"
    try:
        domain = services.domain_verify(
            origin=origin_of(request), actor=actor, domain=domain, force=force
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("%(name)s is verified: it gets mail now.") % {"name": domain.display_name}
        )
    return redirect("domain_detail", pk=pk)


CONTENT_LABELS = {
    "mailboxes": gettext_lazy("mailboxes"),
    "aliases": gettext_lazy("aliases"),
    "alias_domains": gettext_lazy("alias domains"),
    "sender_grants": gettext_lazy("sender grants"),
    "relay_recipients": gettext_lazy("relay recipients"),
}


def domain_contents(domain: Domain) -> list[tuple[str, int]]:
    """The counts the service (and the API's 409) name, and the admins who lose the domain."""
    counts = selectors.domain_contents(domain)
    return [(CONTENT_LABELS[kind], n) for kind, n in counts.items()] + [
        (_("domain admins"), domain.admins.count())
    ]


@role_view("superadmin", "reseller")
def domain_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = get_object_or_404(selectors.domain_list(actor=actor), pk=pk)
    form = DomainDeleteForm(posted(request))
    if request.method == "POST" and form.is_valid():
        name = domain.display_name
        services.domain_delete(
            origin=origin_of(request),
            actor=actor,
            domain=domain,
            confirm=form.cleaned_data["confirm"],
        )
        messages.success(
            request, _("%(name)s and everything in it went to the trash.") % {"name": name}
        )
        return redirect("domain_list")
    return render(
        request,
        "panel/domain_delete.html",
        {"domain": domain, "form": form, "contents": domain_contents(domain)},
    )


@role_view("superadmin", "reseller")
@require_POST
def alias_domain_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = get_object_or_404(selectors.domain_list(actor=actor), pk=pk)
    form = AliasDomainForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]

        def create() -> str:
            services.alias_domain_create(
                origin=origin_of(request), actor=actor, name=name, target=domain
            )
            return reverse("domain_detail", args=[domain.pk]) + "#alias-domains"

        result = try_service(
            form, lambda: run_once(request, form.cleaned_data["form_token"], create)
        )
        if result is not None:
            url, replayed = result
            if not replayed:
                messages.success(
                    request,
                    _("%(name)s now answers for %(target)s.")
                    % {"name": name, "target": domain.display_name},
                )
            return redirect(url)
    return render(request, "panel/alias_domain_form.html", {"form": form, "domain": domain})


@role_view("superadmin", "reseller")
def alias_domain_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    alias_domain = get_object_or_404(selectors.alias_domain_list(actor=actor), pk=pk)
    domain_url = reverse("domain_detail", args=[alias_domain.target_id]) + "#alias-domains"
    if request.method == "POST":
        name = alias_domain.display_name
        services.alias_domain_delete(
            origin=origin_of(request), actor=actor, alias_domain=alias_domain
        )
        messages.success(request, _("The alias domain %(name)s was deleted.") % {"name": name})
        if is_htmx(request):
            return htmx_answer(request)
        return redirect(domain_url)
    return render(
        request,
        "panel/confirm_delete.html",
        {"object": alias_domain, "what": _("alias domain"), "cancel": domain_url},
    )
