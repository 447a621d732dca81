"""Two-factor authentication for panel users (TOTP, django-otp) with recovery codes, and the
superadmin's rule saying which roles must use it (docs/security.md).

A user has at most one confirmed TOTP device (an authenticator app) and, with it, one static
device holding its recovery codes. django-otp stores static tokens as given, so what is stored
here is a keyed hash of each code (`_code_hash`: HMAC-SHA256 under SECRET_KEY, 64 bits kept):
a database dump alone does not reveal a usable code. The codes are shown once, when made.

Wrong codes are throttled by django-otp per device (OTP_TOTP_THROTTLE_FACTOR,
OTP_STATIC_THROTTLE_FACTOR: after n failures in a row the next try must wait factor * 2^(n-1)
seconds, and until then even the right code is refused); the login view adds a cap of
MAILADMIN_2FA_MAX_TRIES codes per password login.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import TwoFactorPolicy, User
from audit import diff
from audit.origin import Origin
from audit.services import audit_record

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
MAX_CODE_INPUT = 64


def _role(user: User) -> str:
    return User.Role.SUPERADMIN if user.is_superadmin else user.role


def policy() -> TwoFactorPolicy:
    return TwoFactorPolicy.load()


def is_required(user: User) -> bool:
    return policy().requires(_role(user))


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def needs_enrolment(user: User) -> bool:
    """A user whose role must use 2FA and who has no device yet may only enrol."""
    return is_required(user) and not has_two_factor(user)


def _code_hash(code: str) -> str:
    return salted_hmac("accounts.twofactor.recovery", code).hexdigest()[:16]


def _clean_code(code) -> str:
    if not isinstance(code, str):
        return ""
    return "".join(c for c in code[:MAX_CODE_INPUT].lower() if c.isascii() and c.isalnum())


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=_code_hash(code)) for code in codes
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


@transaction.atomic
def enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device an enrolment page shows (the same one until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def enrolment_confirm(*, user: User, code: str, origin: Origin | None = None) -> list[str]:
    """Confirm the authenticator with a code from it; returns the recovery codes (shown once)."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise ValidationError({"code": [_("Start the enrolment again.")]})
    cleaned = _clean_code(code)
    if not (cleaned.isdigit() and len(cleaned) == device.digits and device.verify_token(cleaned)):
        raise ValidationError(
            {"code": [ValidationError(_("This code is not right."), code="wrong")]}
        )
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    audit_record(
        actor=user,
        action="user.2fa_enable",
        obj=user,
        changes={
            "two_factor": {"before": False, "after": True},
            **diff.secret_changed("totp_key", "recovery_codes"),
        },
        origin=origin,
    )
    return codes


@transaction.atomic
def recovery_codes_renew(*, user: User, origin: Origin | None = None) -> list[str]:
    if not has_two_factor(user):
        raise ValidationError({"code": [_("Set up two-factor authentication first.")]})
    codes = _new_recovery_codes(user)
    audit_record(
        actor=user,
        action="user.2fa_recovery_codes",
        obj=user,
        changes=diff.secret_changed("recovery_codes"),
        origin=origin,
    )
    return codes


@transaction.atomic
def two_factor_disable(*, actor, user: User, origin: Origin | None = None) -> None:
    """The user itself, a superadmin, or the system (`manage.py twofactor_reset`) for someone
    who lost the device."""
    if not (actor is None or actor.is_superadmin or actor.pk == user.pk):
        raise PermissionDenied("Only superadmins reset another user's two-factor login.")
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_record(
        actor=actor,
        action="user.2fa_disable",
        obj=user,
        changes={"two_factor": {"before": True, "after": False}},
        origin=origin,
    )


def verify_second_factor(*, user: User, code: str, origin: Origin | None = None) -> str | None:
    """Check a code typed at login: a TOTP code (digits) or a recovery code (used up). Returns
    "totp" or "recovery", or None. Not atomic on purpose: a failure's throttle count must stay."""
    cleaned = _clean_code(code)
    if not cleaned:
        return None
    if cleaned.isdigit():
        device = totp_device(user)
        return "totp" if device is not None and device.verify_token(cleaned) else None
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or len(cleaned) != 10:
        return None
    if device.verify_token(_code_hash(cleaned)):
        audit_record(
            actor=user,
            action="user.2fa_recovery_code_used",
            obj=user,
            changes={"recovery_codes_left": {"before": None, "after": recovery_codes_left(user)}},
            origin=origin,
        )
        return "recovery"
    return None


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def policy_update(*, actor, origin: Origin | None = None, **required: bool) -> TwoFactorPolicy:
    """Superadmins say which roles must use 2FA (require_superadmin, require_reseller,
    require_domain_admin)."""
    if not getattr(actor, "is_superadmin", False):
        raise PermissionDenied("Only superadmins set the two-factor rule.")
    unknown = set(required) - set(TwoFactorPolicy.FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    row = TwoFactorPolicy.load(for_update=True)
    changes = {k: bool(v) for k, v in required.items() if getattr(row, k) != bool(v)}
    if changes:
        before = diff.snapshot(row, TwoFactorPolicy.FIELDS)
        for field, value in changes.items():
            setattr(row, field, value)
        row.save()
        audit_record(
            actor=actor,
            action="twofactor_policy.update",
            obj=row,
            changes=diff.diff(before, diff.snapshot(row, TwoFactorPolicy.FIELDS)),
            origin=origin,
        )
    return row


def issuer() -> str:
    return settings.OTP_TOTP_ISSUER
