"""Mailboxes (with forwarding and sender identities), aliases and their inline actions."""

import secrets

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from domains import selectors, services
from domains.models import Mailbox
from panel.forms import (
    AliasCreateForm,
    AliasEditForm,
    MailboxCreateForm,
    MailboxEditForm,
    MailboxRenameForm,
    PasswordResetForm,
    SenderGrantForm,
)
from panel.once import run_once
from panel.views.common import (
    back,
    htmx_answer,
    is_htmx,
    no_store,
    origin_of,
    posted,
    staff_view,
    try_service,
    wanted_state,
)

MAILBOX_FIELDS = ("name", "quota_bytes", "active", "allow_imap", "allow_pop3", "allow_smtp")


def strong_password() -> str:
    """About 120 bits, in groups a person can read out and type."""
    raw = secrets.token_urlsafe(20).replace("-", "x").replace("_", "y")
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


def _domain(request, pk):
    return get_object_or_404(selectors.domain_list(actor=request.user), pk=pk)


def _mailbox(request, pk):
    return get_object_or_404(
        selectors.mailbox_list(actor=request.user).prefetch_related("forwards"), pk=pk
    )


def _alias(request, pk):
    return get_object_or_404(selectors.alias_list(actor=request.user), pk=pk)


def _show_password(request, mailbox, password: str) -> HttpResponse:
    return no_store(
        render(request, "panel/password_once.html", {"mailbox": mailbox, "password": password})
    )


@staff_view
def mailbox_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = _domain(request, pk)
    form = MailboxCreateForm(posted(request), domain=domain)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "form_token"}
        generated = not data["password"]
        if generated:
            data["password"] = strong_password()
        made = {}

        def create() -> str:
            made["mailbox"] = services.mailbox_create(
                origin=origin_of(request), actor=actor, **data
            )
            return reverse("mailbox_edit", args=[made["mailbox"].pk])

        token = form.cleaned_data["form_token"]
        result = try_service(form, lambda: run_once(request, token, create))
        if result is not None:
            url, replayed = result
            if replayed:
                return redirect(url)
            mailbox = made["mailbox"]
            messages.success(
                request, _("The mailbox %(address)s was added.") % {"address": mailbox.address}
            )
            if generated:
                return _show_password(request, mailbox, data["password"])
            return redirect(url)
    return render(
        request, "panel/mailbox_form.html", {"form": form, "domain": domain, "mailbox": None}
    )


@staff_view
def mailbox_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    mailbox = _mailbox(request, pk)
    form = _mailbox_form(mailbox, posted(request))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data["quota_bytes"] is None:
            data["quota_bytes"] = mailbox.quota_bytes
        if (
            try_service(
                form,
                lambda: services.mailbox_update(
                    origin=origin_of(request), actor=actor, mailbox=mailbox, **data
                ),
            )
            is not None
        ):
            messages.success(request, _("%(address)s was saved.") % {"address": mailbox.address})
            return redirect("mailbox_edit", pk=mailbox.pk)
    return _mailbox_page(request, mailbox, form)


def _mailbox_form(mailbox: Mailbox, data=None) -> MailboxEditForm:
    initial = {f: getattr(mailbox, f) for f in MAILBOX_FIELDS}
    initial["keep_copy"] = mailbox.keep_copy
    initial["forward_to"] = [f.address for f in mailbox.forwards.all()]
    return MailboxEditForm(data, initial=initial)


def _mailbox_page(
    request: HttpRequest,
    mailbox: Mailbox,
    form: MailboxEditForm,
    grant_form: SenderGrantForm | None = None,
) -> HttpResponse:
    actor = request.user
    return render(
        request,
        "panel/mailbox_form.html",
        {
            "form": form,
            "domain": mailbox.domain,
            "mailbox": mailbox,
            "grants": selectors.sender_grant_list(actor=actor, mailbox=mailbox),
            "implied": selectors.alias_list(actor=actor).filter(
                recipients__address=mailbox.address
            ),
            "grant_form": grant_form or SenderGrantForm(),
            "password_form": PasswordResetForm(),
            "rename_form": MailboxRenameForm(initial={"address": mailbox.address}),
        },
    )


@staff_view
def mailbox_rename(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    mailbox = _mailbox(request, pk)
    form = MailboxRenameForm(posted(request), initial={"address": mailbox.address})
    if request.method == "POST" and form.is_valid():
        address = form.cleaned_data["address"]
        renamed = try_service(
            form,
            lambda: services.mailbox_rename(
                origin=origin_of(request), actor=actor, mailbox=mailbox, address=address
            ),
        )
        if renamed is not None:
            messages.success(
                request,
                _("%(old)s is now %(new)s; its mail is being moved.")
                % {"old": mailbox.address, "new": renamed.address},
            )
            return redirect("mailbox_edit", pk=mailbox.pk)
    return render(request, "panel/mailbox_rename.html", {"form": form, "mailbox": mailbox})


@staff_view
@require_POST
def mailbox_password(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    mailbox = _mailbox(request, pk)
    form = PasswordResetForm(request.POST)
    if form.is_valid():
        password = form.cleaned_data["password"]
        generated = not password
        if generated:
            password = strong_password()
        if (
            try_service(
                form,
                lambda: services.mailbox_set_password(
                    origin=origin_of(request), actor=actor, mailbox=mailbox, password=password
                ),
            )
            is not None
        ):
            messages.success(
                request,
                _("The password of %(address)s was changed.") % {"address": mailbox.address},
            )
            if generated:
                return _show_password(request, mailbox, password)
            return redirect("mailbox_edit", pk=mailbox.pk)
    for error in form.errors.get("password", []):
        messages.error(request, error)
    return redirect("mailbox_edit", pk=mailbox.pk)


@staff_view
@require_POST
def mailbox_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    mailbox = _mailbox(request, pk)
    mailbox = services.mailbox_update(
        origin=origin_of(request),
        actor=actor,
        mailbox=mailbox,
        active=wanted_state(request, mailbox.active),
    )
    state = _("active") if mailbox.active else _("inactive")
    messages.success(
        request, _("%(address)s is now %(state)s.") % {"address": mailbox.address, "state": state}
    )
    if is_htmx(request):
        return htmx_answer(request, "panel/rows/mailbox.html", {"mailbox": _mailbox(request, pk)})
    return back(request, reverse("domain_detail", args=[mailbox.domain_id]))


@staff_view
def mailbox_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    mailbox = _mailbox(request, pk)
    domain_url = reverse("domain_detail", args=[mailbox.domain_id])
    if request.method == "POST":
        services.mailbox_delete(origin=origin_of(request), actor=actor, mailbox=mailbox)
        messages.success(
            request, _("The mailbox %(address)s went to the trash.") % {"address": mailbox.address}
        )
        if is_htmx(request):
            return htmx_answer(request)
        return redirect(domain_url)
    return render(
        request,
        "panel/confirm_delete.html",
        {"object": mailbox, "what": _("mailbox"), "cancel": domain_url},
    )


@staff_view
@require_POST
def sender_grant_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    mailbox = _mailbox(request, pk)
    form = SenderGrantForm(request.POST)
    if form.is_valid():
        address = form.cleaned_data["address"]
        grant = try_service(
            form,
            lambda: services.sender_grant_create(
                origin=origin_of(request), actor=actor, mailbox=mailbox, address=address
            ),
        )
        if grant is not None:
            messages.success(
                request,
                _("%(mailbox)s may now send as %(address)s.")
                % {"mailbox": mailbox.address, "address": grant.address},
            )
            return redirect(reverse("mailbox_edit", args=[mailbox.pk]) + "#senders")
    # The refusal is shown next to the field, on the mailbox page the form lives on.
    return _mailbox_page(request, mailbox, _mailbox_form(mailbox), grant_form=form)


@staff_view
@require_POST
def sender_grant_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    grant = get_object_or_404(selectors.sender_grant_list(actor=actor), pk=pk)
    mailbox_id = grant.mailbox_id
    services.sender_grant_delete(origin=origin_of(request), actor=actor, grant=grant)
    messages.success(
        request, _("The sender identity %(address)s was removed.") % {"address": grant.address}
    )
    if is_htmx(request):
        return htmx_answer(request)
    return back(request, reverse("mailbox_edit", args=[mailbox_id]) + "#senders")


# --- Aliases ------------------------------------------------------------------------------------


@staff_view
def alias_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    domain = _domain(request, pk)
    form = AliasCreateForm(posted(request), domain=domain)
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in ("address", "recipients", "description", "active")}

        def create() -> str:
            services.alias_create(origin=origin_of(request), actor=actor, **data)
            return reverse("domain_detail", args=[domain.pk]) + "#aliases"

        result = try_service(
            form, lambda: run_once(request, form.cleaned_data["form_token"], create)
        )
        if result is not None:
            url, replayed = result
            if not replayed:
                messages.success(
                    request, _("The alias %(address)s was added.") % {"address": data["address"]}
                )
            return redirect(url)
    return render(request, "panel/alias_form.html", {"form": form, "domain": domain, "alias": None})


@staff_view
def alias_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    alias = _alias(request, pk)
    initial = {
        "recipients": [r.address for r in alias.recipients.all()],
        "description": alias.description,
        "active": alias.active,
    }
    form = AliasEditForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if (
            try_service(
                form,
                lambda: services.alias_update(
                    origin=origin_of(request), actor=actor, alias=alias, **data
                ),
            )
            is not None
        ):
            messages.success(request, _("%(address)s was saved.") % {"address": alias.address})
            return redirect(reverse("domain_detail", args=[alias.domain_id]) + "#aliases")
    return render(
        request, "panel/alias_form.html", {"form": form, "domain": alias.domain, "alias": alias}
    )


@staff_view
@require_POST
def alias_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    alias = _alias(request, pk)
    alias = services.alias_update(
        origin=origin_of(request),
        actor=actor,
        alias=alias,
        active=wanted_state(request, alias.active),
    )
    state = _("active") if alias.active else _("inactive")
    messages.success(
        request, _("%(address)s is now %(state)s.") % {"address": alias.address, "state": state}
    )
    if is_htmx(request):
        return htmx_answer(request, "panel/rows/alias.html", {"alias": _alias(request, pk)})
    return back(request, reverse("domain_detail", args=[alias.domain_id]) + "#aliases")


@staff_view
def alias_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    alias = _alias(request, pk)
    domain_url = reverse("domain_detail", args=[alias.domain_id]) + "#aliases"
    if request.method == "POST":
        services.alias_delete(origin=origin_of(request), actor=actor, alias=alias)
        messages.success(
            request, _("The alias %(address)s was deleted.") % {"address": alias.address}
        )
        if is_htmx(request):
            return htmx_answer(request)
        return redirect(domain_url)
    return render(
        request,
        "panel/confirm_delete.html",
        {"object": alias, "what": _("alias"), "cancel": domain_url},
    )
