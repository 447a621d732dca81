"""The mailbox owner's pages: log in with the address and mail password, see the quota, change
the password, set forwarding, see the addresses the mailbox may send as."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from domains import services
from domains.models import Alias, SenderGrant
from panel.auth import (
    current_owner,
    log_in_owner,
    log_out_owner,
    owner_required,
    remember_password_change,
)
from panel.forms import OwnerForwardingForm, OwnerLoginForm, OwnerPasswordForm
from panel.views.common import origin_of, posted, try_service


def owner_login(request: HttpRequest) -> HttpResponse:
    if current_owner(request) is not None:
        return redirect("owner_home")
    form = OwnerLoginForm(posted(request))
    if request.method == "POST" and form.is_valid():
        owner = log_in_owner(request, form.cleaned_data["address"], form.cleaned_data["password"])
        if owner is not None:
            return redirect("owner_home")
        form.add_error(None, _("The address or the password is not right."))
    return render(request, "panel/owner/login.html", {"form": form})


@require_POST
def owner_logout(request: HttpRequest) -> HttpResponse:
    log_out_owner(request)
    return redirect("owner_login")


def _identities(mailbox) -> dict:
    return {
        "grants": SenderGrant.objects.filter(mailbox=mailbox).select_related("domain"),
        "aliases": Alias.objects.filter(recipients__address=mailbox.address, active=True)
        .order_by("address")
        .distinct(),
    }


@owner_required
def owner_home(request: HttpRequest) -> HttpResponse:
    mailbox = request.owner.mailbox
    form = OwnerForwardingForm(
        posted(request),
        initial={
            "forward_to": [f.address for f in mailbox.forwards.all()],
            "keep_copy": mailbox.keep_copy,
        },
    )
    if request.method == "POST" and form.is_valid():
        saved = try_service(
            form,
            lambda: services.mailbox_owner_set_forwarding(
                origin=origin_of(request),
                mailbox=mailbox,
                forward_to=form.cleaned_data["forward_to"],
                keep_copy=form.cleaned_data["keep_copy"],
            ),
        )
        if saved is not None:
            messages.success(request, _("Your forwarding was saved."))
            return redirect("owner_home")
    return render(
        request,
        "panel/owner/home.html",
        {
            "mailbox": mailbox,
            "form": form,
            "password_form": OwnerPasswordForm(),
            **_identities(mailbox),
        },
    )


@owner_required
def owner_password(request: HttpRequest) -> HttpResponse:
    mailbox = request.owner.mailbox
    form = OwnerPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        saved = try_service(
            form,
            lambda: services.mailbox_owner_change_password(
                origin=origin_of(request),
                mailbox=mailbox,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["password"],
            ),
        )
        if saved is not None:
            remember_password_change(request, saved)
            messages.success(request, _("Your password was changed."))
            return redirect("owner_home")
    return render(request, "panel/owner/password.html", {"mailbox": mailbox, "form": form})
