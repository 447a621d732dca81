"""Panel users: superadmins manage everyone (reseller logins, domain admins, superadmins); a
reseller its own pool's domain admins. Every write is an accounts service call; every lookup goes
through accounts.selectors.user_list, so another tenant's user is a 404."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts.models import Reseller
from accounts.selectors import user_list
from panel.forms import PasswordResetForm, UserCreateForm, UserEditForm
from panel.once import run_once
from panel.views.common import (
    back,
    htmx_answer,
    is_htmx,
    no_store,
    origin_of,
    page_of,
    posted,
    role_view,
    search_term,
    try_service,
    wanted_state,
)


def _user(request: HttpRequest, pk: int, *, manage: bool = True):
    """The user `pk` as the actor sees it; one it may see but not manage (a reseller's own
    login) is a 404 for the pages that change it."""
    user = get_object_or_404(user_list(actor=request.user), pk=pk)
    if manage:
        try:
            account_services.ensure_can_manage_user(request.user, user)
        except PermissionDenied:
            raise Http404 from None
    return user


def _mark_manageable(actor, users) -> None:
    """Mark the rows the actor may change (`can_manage`), for the links and buttons."""
    for user in users:
        try:
            account_services.ensure_can_manage_user(actor, user)
        except PermissionDenied:
            user.can_manage = False
        else:
            user.can_manage = True


@role_view("superadmin", "reseller")
def user_list_page(request: HttpRequest) -> HttpResponse:
    term = search_term(request, 150).strip()
    page = page_of(request, user_list(actor=request.user, search=term))
    _mark_manageable(request.user, page.object_list)
    return render(request, "panel/user_list.html", {"page": page, "q": term})


def _show_password(request: HttpRequest, user, password: str) -> HttpResponse:
    return no_store(
        render(request, "panel/user_password_once.html", {"person": user, "password": password})
    )


@role_view("superadmin", "reseller")
def user_create(request: HttpRequest) -> HttpResponse:
    actor = request.user
    resellers = Reseller.objects.order_by("name") if actor.is_superadmin else None
    initial = {}
    if resellers is not None and request.GET.get("reseller", "").isdigit():
        # "Add a login" on a reseller's page.
        initial = {"reseller": request.GET["reseller"], "role": "reseller"}
    form = UserCreateForm(posted(request), resellers=resellers, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        given = form.cleaned_data["password"]
        password = given or account_services.generate_password()
        made = {}

        def create() -> str:
            made["user"] = account_services.user_create(
                origin=origin_of(request), actor=actor, password=password, **data
            )
            return reverse("user_edit", args=[made["user"].pk])

        result = try_service(
            form, lambda: run_once(request, form.cleaned_data["form_token"], create)
        )
        if result is not None:
            url, replayed = result
            if replayed:
                return redirect(url)
            user = made["user"]
            messages.success(request, _("The user %(name)s was added.") % {"name": user.username})
            if not given:
                return _show_password(request, user, password)
            return redirect(url)
    return render(request, "panel/user_form.html", {"form": form, "person": None})


@role_view("superadmin", "reseller")
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    user = _user(request, pk)
    is_admin = user.role == "domainadmin" and not user.is_superuser
    initial = {
        "email": user.email,
        "active": user.is_active,
        "domains": [d.name for d in user.managed_domains.all()],
    }
    form = UserEditForm(posted(request), initial=initial, is_domain_admin=is_admin)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        saved = try_service(
            form,
            lambda: account_services.user_update(
                origin=origin_of(request), actor=actor, user=user, **data
            ),
        )
        if saved is not None:
            messages.success(request, _("%(name)s was saved.") % {"name": user.username})
            return redirect("user_edit", pk=user.pk)
    return render(
        request,
        "panel/user_form.html",
        {"form": form, "person": user, "password_form": PasswordResetForm()},
    )


@role_view("superadmin", "reseller")
@require_POST
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    user = _user(request, pk)
    form = PasswordResetForm(request.POST)
    if form.is_valid():
        given = form.cleaned_data["password"] or None
        password = try_service(
            form,
            lambda: account_services.user_set_password(
                origin=origin_of(request), actor=actor, user=user, password=given
            ),
        )
        if password is not None:
            if user.pk == actor.pk:  # keep this session; the user's other sessions end
                update_session_auth_hash(request, type(user).objects.get(pk=user.pk))
            messages.success(
                request, _("The password of %(name)s was changed.") % {"name": user.username}
            )
            if given is None:
                return _show_password(request, user, password)
            return redirect("user_edit", pk=user.pk)
    for error in form.errors.get("password", []) + form.non_field_errors():
        messages.error(request, error)
    return redirect("user_edit", pk=user.pk)


@role_view("superadmin", "reseller")
@require_POST
def user_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    user = _user(request, pk)
    try:
        user = account_services.user_update(
            origin=origin_of(request),
            actor=actor,
            user=user,
            active=wanted_state(request, user.is_active),
        )
    except ValidationError as exc:  # deactivating yourself: said, not done
        for message in exc.messages:
            messages.error(request, message)
    else:
        state = _("active") if user.is_active else _("inactive")
        messages.success(
            request, _("%(name)s is now %(state)s.") % {"name": user.username, "state": state}
        )
    if is_htmx(request):
        fresh = user_list(actor=actor).get(pk=pk)
        fresh.can_manage = True
        return htmx_answer(request, "panel/rows/user.html", {"person": fresh})
    return back(request, reverse("user_list"))


@role_view("superadmin", "reseller")
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request.user
    user = _user(request, pk)
    if request.method == "POST":
        name = user.username
        try:
            account_services.user_delete(origin=origin_of(request), actor=actor, user=user)
        except PermissionDenied as exc:  # yourself
            messages.error(request, str(exc))
            return back(request, reverse("user_list"))
        messages.success(request, _("The user %(name)s was deleted.") % {"name": name})
        if is_htmx(request):
            return htmx_answer(request)
        return redirect("user_list")
    return render(
        request,
        "panel/confirm_delete.html",
        {"object": user.username, "what": _("user"), "cancel": reverse("user_list")},
    )
