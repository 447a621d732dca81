"""Writes for people and pools: resellers, reseller users and domain admins."""

from typing import Any

from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.models import Reseller, User
from audit.services import audit_record
from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.passwords import validate_plain_password
from domains.permissions import (
    ensure_can_administer_domains,
    ensure_can_manage_domain,
    is_system,
)

POOL_FIELDS = ("max_domains", "max_mailboxes", "max_aliases", "max_quota_bytes")


def _duplicate(field: str, message: str) -> ValidationError:
    # The code must sit on the field's error: ValidationError(dict, code) drops it.
    return ValidationError({field: [ValidationError(message, code="duplicate")]})


def _ensure_superadmin(actor) -> None:
    if not (is_system(actor) or actor.is_superadmin):
        raise PermissionDenied("Only superadmins manage resellers.")


def _pool_values(values: dict[str, Any]) -> dict[str, int]:
    for field, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError({field: "Give a whole number of 0 or more."})
    return values


def _reseller_name(name: str, *, exclude_pk: int | None = None) -> str:
    """Names are unique regardless of case and surrounding spaces."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "Give the reseller a name."})
    if len(name) > Reseller._meta.get_field("name").max_length:
        raise ValidationError({"name": "At most 100 characters."})
    if Reseller.objects.filter(name__iexact=name).exclude(pk=exclude_pk).exists():
        raise _duplicate("name", f"A reseller named {name} already exists.")
    return name


@transaction.atomic
def reseller_create(*, actor, name: str, active: bool = True, **pool: int) -> Reseller:
    _ensure_superadmin(actor)
    unknown = set(pool) - set(POOL_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    name = _reseller_name(name)
    reseller = Reseller(name=name, active=active, **_pool_values(pool))
    try:
        with transaction.atomic():
            reseller.save()
    except IntegrityError as exc:
        raise _duplicate("name", f"A reseller named {name} already exists.") from exc
    audit_record(actor=actor, action="reseller.create", obj=reseller, changes={"name": name})
    return reseller


@transaction.atomic
def reseller_update(*, actor, reseller: Reseller, **fields: Any) -> Reseller:
    """Change what differs from the stored row (name, active flag, pool limits)."""
    _ensure_superadmin(actor)
    reseller = Reseller.objects.select_for_update().get(pk=reseller.pk)
    unknown = set(fields) - {"name", "active", *POOL_FIELDS}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This field cannot be changed."})
    _pool_values({k: v for k, v in fields.items() if k in POOL_FIELDS})
    if "name" in fields:
        fields["name"] = _reseller_name(fields["name"], exclude_pk=reseller.pk)
    changes = {k: v for k, v in fields.items() if getattr(reseller, k) != v}
    if not changes:
        return reseller
    for field, value in changes.items():
        setattr(reseller, field, value)
    _check_pool_fits(reseller)
    try:
        with transaction.atomic():
            reseller.save()
    except IntegrityError as exc:
        raise _duplicate("name", f"A reseller named {reseller.name} already exists.") from exc
    audit_record(actor=actor, action="reseller.update", obj=reseller, changes=changes)
    return reseller


def _check_pool_fits(reseller: Reseller) -> None:
    """A pool may not be lowered below what its domains already use (the row is locked)."""
    mailboxes = Mailbox.objects.filter(domain__reseller=reseller)
    errors = {}
    domains = (
        reseller.domains.count() + AliasDomain.objects.filter(target__reseller=reseller).count()
    )
    if reseller.max_domains and domains > reseller.max_domains:
        errors["max_domains"] = f"The reseller already has {domains} domains."
    if reseller.max_mailboxes and mailboxes.count() > reseller.max_mailboxes:
        errors["max_mailboxes"] = "The reseller already has more mailboxes than that."
    aliases = Alias.objects.filter(domain__reseller=reseller).count()
    if reseller.max_aliases and aliases > reseller.max_aliases:
        errors["max_aliases"] = "The reseller already has more aliases than that."
    if reseller.max_quota_bytes and (
        mailboxes.filter(quota_bytes=0).exists()
        or (mailboxes.aggregate(total=Sum("quota_bytes"))["total"] or 0) > reseller.max_quota_bytes
    ):
        errors["max_quota_bytes"] = (
            "The mailboxes' quotas already add up to more than that (or are unlimited)."
        )
    if errors:
        raise ValidationError(
            {field: [ValidationError(message, code="limit")] for field, message in errors.items()}
        )


@transaction.atomic
def user_create(
    *,
    actor,
    username: str,
    password: str | None,
    role: str,
    email: str = "",
    reseller: Reseller | None = None,
    domains: list[Domain] | None = None,
) -> User:
    """Superadmins create anyone; a reseller creates domain admins for its own domains."""
    if role not in User.Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(User.Role.values)}."})
    if not is_system(actor) and not actor.is_superadmin:
        if not (actor.is_reseller and role == User.Role.DOMAIN_ADMIN):
            raise PermissionDenied("You may only create domain admins.")
        ensure_can_administer_domains(actor)  # a deactivated reseller adds nobody
    if role == User.Role.RESELLER and reseller is None:
        raise ValidationError({"reseller": "A reseller user belongs to a reseller."})
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": "Give a user name."})
    if User.objects.filter(username__iexact=username).exists():
        raise _duplicate("username", f"{username} is taken.")
    user = User(
        username=username,
        email=email,
        role=role,
        reseller=reseller if role == User.Role.RESELLER else None,
        is_superuser=role == User.Role.SUPERADMIN,
        is_staff=role == User.Role.SUPERADMIN,
    )
    if password:
        _check_user_password(password, username=username, email=email)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    for domain in domains or []:
        ensure_can_manage_domain(actor, domain)
        user.managed_domains.add(domain)
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        changes={"role": role, "domains": [d.name for d in domains or []]},
    )
    return user


def _check_user_password(password: str, *, username: str, email: str = "") -> None:
    """The same policy as mailbox passwords (domains.passwords.validate_plain_password)."""
    names = (username, email, (email or "").split("@")[0])
    try:
        validate_plain_password(password, names=names)
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from exc


@transaction.atomic
def user_set_password(*, actor, user: User, password: str) -> User:
    """A panel user's new password: the user itself, or a superadmin for anyone."""
    if not (is_system(actor) or actor.is_superadmin or actor.pk == user.pk):
        raise PermissionDenied("You may only change your own password.")
    user = User.objects.select_for_update().get(pk=user.pk)
    _check_user_password(password, username=user.username, email=user.email)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=actor, action="user.password", obj=user)
    return user


@transaction.atomic
def user_password_rehashed(*, user: User, old_hash: str) -> None:
    """Django replaced a panel user's hash at login (another hasher or cost): record which
    algorithms, never the hash."""
    try:
        old = identify_hasher(old_hash).algorithm
    except ValueError:
        old = "unknown"
    audit_record(
        actor=user,
        action="user.password_rehash",
        obj=user,
        changes={"from": old, "to": identify_hasher(user.password).algorithm},
    )
