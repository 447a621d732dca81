"""App passwords of a mailbox: its owner's page and the admins' page for a mailbox. A new app
password is shown once, on a page the browser must not keep (Cache-Control: no-store)."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from domains import selectors, services
from domains.models import AppPassword
from panel.auth import owner_required
from panel.forms import AppPasswordForm
from panel.views.common import no_store, origin_of, posted, staff_view, try_service


def _page(request, mailbox, form, *, owner: bool, actor=None) -> HttpResponse:
    items = selectors.app_password_list(actor=actor, mailbox=mailbox)
    return no_store(
        render(
            request,
            "panel/app_passwords.html",
            {"mailbox": mailbox, "form": form, "items": items, "owner_page": owner},
        )
    )


def _created(request, mailbox, result, *, owner: bool) -> HttpResponse:
    app_password, secret = result
    return no_store(
        render(
            request,
            "panel/app_password_once.html",
            {
                "mailbox": mailbox,
                "app_password": app_password,
                "secret": secret,
                "owner_page": owner,
            },
        )
    )


@owner_required
def owner_app_passwords(request: HttpRequest) -> HttpResponse:
    mailbox = request.owner.mailbox
    form = AppPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = try_service(
            form,
            lambda: services.mailbox_owner_app_password_create(
                origin=origin_of(request), mailbox=mailbox, **form.cleaned_data
            ),
        )
        if result is not None:
            return _created(request, mailbox, result, owner=True)
    return _page(request, mailbox, form, owner=True)


@require_POST
@owner_required
def owner_app_password_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = request.owner.mailbox
    app_password = get_object_or_404(AppPassword, pk=pk, mailbox=mailbox)
    services.mailbox_owner_app_password_delete(
        origin=origin_of(request), mailbox=mailbox, app_password=app_password
    )
    messages.success(request, _("The app password was revoked."))
    return redirect("owner_app_passwords")


@staff_view
def mailbox_app_passwords(request: HttpRequest, pk: int) -> HttpResponse:
    mailbox = get_object_or_404(selectors.mailbox_list(actor=request.user), pk=pk)
    form = AppPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = try_service(
            form,
            lambda: services.app_password_create(
                origin=origin_of(request), actor=request.user, mailbox=mailbox, **form.cleaned_data
            ),
        )
        if result is not None:
            return _created(request, mailbox, result, owner=False)
    return _page(request, mailbox, form, owner=False, actor=request.user)


@require_POST
@staff_view
def app_password_delete(request: HttpRequest, pk: int) -> HttpResponse:
    app_password = selectors.app_password_list(actor=request.user).filter(pk=pk).first()
    if app_password is None:
        raise Http404
    services.app_password_delete(
        origin=origin_of(request), actor=request.user, app_password=app_password
    )
    messages.success(request, _("The app password was revoked."))
    return redirect("mailbox_app_passwords", pk=app_password.mailbox_id)
