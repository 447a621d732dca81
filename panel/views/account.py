"""Panel users' own security: the two-step login (password, then a code when the user has
two-factor authentication), enrolling an authenticator app with recovery codes, and the
superadmins' rule on which roles must use it (accounts.twofactor)."""

import base64
import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services as account_services
from accounts import twofactor
from panel.forms import SecondFactorForm, TwoFactorPolicyForm, UserPasswordForm
from panel.views.common import no_store, origin_of, posted, role_view, staff_view, try_service

PENDING_KEY = "panel_2fa_pending"


class PasswordLoginView(LoginView):
    """Step one. A user with an authenticator is not logged in yet: the session remembers who
    passed the password (for MAILADMIN_2FA_PENDING_SECONDS) and the code page finishes."""

    def form_valid(self, form):
        user = form.get_user()
        if not twofactor.has_two_factor(user):
            return super().form_valid(form)
        # A new session: whoever was logged in here before is logged out, no old id survives.
        self.request.session.flush()
        self.request.session[PENDING_KEY] = {
            "id": user.pk,
            "backend": user.backend,
            "at": time.time(),
            "tries": 0,
            "next": self.get_redirect_url(),
        }
        return redirect("login_code")


def _pending_user(request: HttpRequest):
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None, None
    if time.time() - data.get("at", 0) > settings.MAILADMIN_2FA_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None, None
    user = get_user_model().objects.filter(pk=data.get("id"), is_active=True).first()
    return user, data


def login_code(request: HttpRequest) -> HttpResponse:
    """Step two: a TOTP code or a recovery code. MAILADMIN_2FA_MAX_TRIES wrong codes send the
    user back to the password (which django-axes throttles); django-otp throttles each device."""
    user, data = _pending_user(request)
    if user is None:
        return redirect("login")
    form = SecondFactorForm(posted(request))
    if request.method == "POST" and form.is_valid():
        used = twofactor.verify_second_factor(
            origin=origin_of(request), user=user, code=form.cleaned_data["code"]
        )
        if used is not None:
            request.session.pop(PENDING_KEY, None)
            auth_login(request, user, backend=data["backend"])
            if used == "recovery":
                messages.warning(
                    request,
                    _("You used a recovery code; %(n)d are left.")
                    % {"n": twofactor.recovery_codes_left(user)},
                )
            target = data.get("next") or ""
            if not url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                target = settings.LOGIN_REDIRECT_URL
            return redirect(target)
        data["tries"] = data.get("tries", 0) + 1
        if data["tries"] >= settings.MAILADMIN_2FA_MAX_TRIES:
            request.session.pop(PENDING_KEY, None)
            messages.error(request, _("Too many wrong codes: log in again."))
            return redirect("login")
        request.session[PENDING_KEY] = data
        form.add_error("code", _("This code is not right, or it came too soon after a wrong one."))
    return render(request, "registration/login_code.html", {"form": form})


def _qr_svg(url: str) -> str:
    # segno writes an SVG document; the <svg> element goes into the page as is (no script).
    svg = segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff")
    return svg


@staff_view
def two_factor(request: HttpRequest) -> HttpResponse:
    """The user's own two-factor page: enrol (QR code and secret, then a code to confirm),
    renew recovery codes, or turn it off (unless the user's role requires it)."""
    user = request.user
    context = {
        "enabled": twofactor.has_two_factor(user),
        "required": twofactor.is_required(user),
        "codes_left": twofactor.recovery_codes_left(user),
    }
    form = SecondFactorForm(posted(request))
    if not context["enabled"]:
        device = twofactor.enrolment_start(user=user)
        if request.method == "POST" and form.is_valid():
            codes = try_service(
                form,
                lambda: twofactor.enrolment_confirm(
                    origin=origin_of(request), user=user, code=form.cleaned_data["code"]
                ),
            )
            if codes is not None:
                return no_store(
                    render(request, "panel/recovery_codes.html", {"codes": codes, "new": True})
                )
        secret = base64.b32encode(device.bin_key).decode("ascii")
        context.update(
            device=device,
            qr_svg=_qr_svg(device.config_url),
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        )
    context["form"] = form
    return no_store(render(request, "panel/two_factor.html", context))


@require_POST
@staff_view
def two_factor_recovery(request: HttpRequest) -> HttpResponse:
    codes = twofactor.recovery_codes_renew(origin=origin_of(request), user=request.user)
    return no_store(render(request, "panel/recovery_codes.html", {"codes": codes}))


@require_POST
@staff_view
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    if twofactor.is_required(request.user):
        messages.error(request, _("Your role must use two-factor authentication."))
    else:
        twofactor.two_factor_disable(
            origin=origin_of(request), actor=request.user, user=request.user
        )
        messages.success(request, _("Two-factor authentication is off."))
    return redirect("two_factor")


@role_view("superadmin")
def two_factor_policy(request: HttpRequest) -> HttpResponse:
    current = twofactor.policy()
    form = TwoFactorPolicyForm(
        posted(request), initial={f: getattr(current, f) for f in current.FIELDS}
    )
    if request.method == "POST" and form.is_valid():
        if try_service(
            form,
            lambda: twofactor.policy_update(
                origin=origin_of(request), actor=request.user, **form.cleaned_data
            ),
        ):
            messages.success(request, _("The two-factor rule was saved."))
            return redirect("two_factor_policy")
    return render(request, "panel/two_factor_policy.html", {"form": form})


@staff_view
def account_password(request: HttpRequest) -> HttpResponse:
    """A panel user changes its own password (the policy is the service's); this session stays,
    the user's other sessions end."""
    form = UserPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        if not request.user.check_password(form.cleaned_data["current_password"]):
            form.add_error("current_password", _("This is not the current password."))
        else:
            changed = try_service(
                form,
                lambda: account_services.user_set_password(
                    origin=origin_of(request),
                    actor=request.user,
                    user=request.user,
                    password=form.cleaned_data["password"],
                ),
            )
            if changed is not None:
                request.user.refresh_from_db()
                update_session_auth_hash(request, request.user)
                messages.success(request, _("Your password was changed."))
                return redirect("two_factor")
    return render(request, "panel/account_password.html", {"form": form})
