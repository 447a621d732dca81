"""Writes for people and pools: resellers, reseller users and domain admins."""

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.hashers import identify_hasher
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.models import Reseller, User
from audit import diff
from audit.origin import Origin
from audit.services import audit_record
from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.normalize import INT32_MAX, normalize_domain, normalize_text, storable
from domains.passwords import validate_plain_password
from domains.permissions import (
    can_manage_domain,
    ensure_can_administer_domains,
    is_system,
)

POOL_FIELDS = ("max_domains", "max_mailboxes", "max_aliases", "max_quota_bytes")
RESELLER_AUDIT = ("name", "active", *POOL_FIELDS)  # what the audit trail shows (audit.diff)


def _user_state(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "reseller": user.reseller.name if user.reseller_id else None,
        "active": user.is_active,
    }


# What each pool column holds: integer counts, a bigint of bytes.
POOL_MAXIMUM = {"max_quota_bytes": 2**63 - 1}


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
        maximum = POOL_MAXIMUM.get(field, INT32_MAX)
        if value > maximum:
            raise ValidationError({field: f"At most {maximum}."})
    return values


def _reseller_name(name: str, *, exclude_pk: int | None = None) -> str:
    """Names are unique regardless of case and surrounding spaces."""
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "Give the reseller a name."})
    try:
        name = normalize_text(name, max_length=Reseller._meta.get_field("name").max_length)
    except ValidationError as exc:
        raise ValidationError({"name": exc.error_list}) from exc
    if Reseller.objects.filter(name__iexact=name).exclude(pk=exclude_pk).exists():
        raise _duplicate("name", f"A reseller named {name} already exists.")
    return name


@transaction.atomic
def reseller_create(
    *, actor, name: str, active: bool = True, origin: Origin | None = None, **pool: int
) -> Reseller:
    _ensure_superadmin(actor)
    unknown = set(pool) - set(POOL_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    name = _reseller_name(name)
    if not isinstance(active, bool):
        raise _field("active", "Give true or false.")
    reseller = Reseller(name=name, active=active, **_pool_values(pool))
    try:
        with transaction.atomic():
            reseller.save()
    except IntegrityError as exc:
        raise _duplicate("name", f"A reseller named {name} already exists.") from exc
    audit_record(
        actor=actor,
        action="reseller.create",
        obj=reseller,
        changes=diff.created(diff.snapshot(reseller, RESELLER_AUDIT)),
        origin=origin,
    )
    return reseller


@transaction.atomic
def reseller_update(
    *, actor, reseller: Reseller, origin: Origin | None = None, **fields: Any
) -> Reseller:
    """Change what differs from the stored row (name, active flag, pool limits)."""
    _ensure_superadmin(actor)
    reseller = Reseller.objects.select_for_update().get(pk=reseller.pk)
    unknown = set(fields) - {"name", "active", *POOL_FIELDS}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This field cannot be changed."})
    _pool_values({k: v for k, v in fields.items() if k in POOL_FIELDS})
    if "active" in fields and not isinstance(fields["active"], bool):
        raise _field("active", "Give true or false.")
    if "name" in fields:
        fields["name"] = _reseller_name(fields["name"], exclude_pk=reseller.pk)
    changes = {k: v for k, v in fields.items() if getattr(reseller, k) != v}
    if not changes:
        return reseller
    before = diff.snapshot(reseller, RESELLER_AUDIT)
    for field, value in changes.items():
        setattr(reseller, field, value)
    _check_pool_fits(reseller)
    try:
        with transaction.atomic():
            reseller.save()
    except IntegrityError as exc:
        raise _duplicate("name", f"A reseller named {reseller.name} already exists.") from exc
    audit_record(
        actor=actor,
        action="reseller.update",
        obj=reseller,
        changes=diff.diff(before, diff.snapshot(reseller, RESELLER_AUDIT)),
        origin=origin,
    )
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


# --- Panel users ---------------------------------------------------------------------------------
# Superadmins manage everyone. A reseller manages the domain admins of its own pool (their
# `reseller` is the pool, set when the reseller creates them) and only on its own domains. A
# domain admin manages nobody. Passwords never reach an audit event.


def generate_password() -> str:
    """About 120 bits in groups a person can read out and type; passes the password policy."""
    raw = secrets.token_urlsafe(20).replace("-", "x").replace("_", "y")
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


def _field(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _ensure_can_create_users(actor, role: str) -> None:
    if is_system(actor) or actor.is_superadmin:
        return
    if not (actor.is_reseller and actor.is_active and role == User.Role.DOMAIN_ADMIN):
        raise PermissionDenied("You may only create domain admins.")
    ensure_can_administer_domains(actor)  # a deactivated reseller adds nobody


def ensure_can_manage_user(actor, user: User) -> None:
    """Superadmins manage anyone; a reseller its own pool's domain admins; nobody else anyone."""
    if is_system(actor) or actor.is_superadmin:
        return
    if (
        actor.is_reseller
        and actor.is_active
        and user.role == User.Role.DOMAIN_ADMIN
        and not user.is_superuser
        and user.reseller_id is not None
        and user.reseller_id == actor.reseller_id
    ):
        ensure_can_administer_domains(actor)
        return
    raise PermissionDenied("You do not manage this user.")


def _check_password(password: Any, user: User) -> str:
    """The password policy shared with mailboxes (domains.passwords.validate_plain_password):
    length, no control characters, not the user's own names, not a common password."""
    if not isinstance(password, str) or not password:
        raise _field("password", "Give a password.")
    email = user.email or ""
    try:
        validate_plain_password(password, names=(user.username, email, email.split("@")[0]))
    except ValidationError as exc:
        raise ValidationError({"password": exc.error_list}) from exc
    return password


def _username(username: Any, *, exclude_pk: int | None = None) -> str:
    username = username.strip() if isinstance(username, str) else ""
    if not username:
        raise _field("username", "Give a user name.")
    if len(username) > User._meta.get_field("username").max_length:
        raise _field("username", "At most 150 characters.")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise _field("username", " ".join(exc.messages)) from exc
    if User.objects.filter(username__iexact=username).exclude(pk=exclude_pk).exists():
        raise _duplicate("username", f"{username} is taken.")
    return username


def _email(email: Any) -> str:
    email = email.strip() if isinstance(email, str) else ""
    if email:
        if not storable(email):  # Django's validator lets a lone surrogate through
            raise _field("email", "Give a valid e-mail address, or none.")
        try:
            EmailValidator()(email)
        except ValidationError as exc:
            raise _field("email", "Give a valid e-mail address, or none.") from exc
        if len(email) > User._meta.get_field("email").max_length:
            raise _field("email", "At most 254 characters.")
    return email


def _domains(actor, domains: Iterable[Domain | str], *, reseller: Reseller | None) -> list[Domain]:
    """The domains a domain admin is given, each within the actor's reach and, for a pool's
    domain admin, within that pool. A domain out of reach reads as missing."""
    if isinstance(domains, str | bytes) or not isinstance(domains, Iterable):
        raise _field("domains", "Give a list of domain names.")
    found: dict[int, Domain] = {}
    for item in domains:
        if isinstance(item, Domain):
            domain, name = item, item.name
        elif isinstance(item, str):
            try:
                name = normalize_domain(item)
            except ValidationError:
                raise _field("domains", f"{item[:300]!r} is not a domain name.") from None
            domain = Domain.objects.filter(name=name).first()
        else:
            raise _field("domains", "Give a list of domain names.")
        if domain is None or not can_manage_domain(actor, domain):
            raise _field("domains", f"The domain {name} does not exist.", code="no_domain")
        if reseller is not None and domain.reseller_id != reseller.pk:
            raise _field("domains", f"{name} is not one of {reseller.name}'s domains.")
        found[domain.pk] = domain
    if len(found) > 1000:
        raise _field("domains", "At most 1000 domains.")
    return sorted(found.values(), key=lambda d: d.name)


@transaction.atomic
def user_create(
    *,
    actor,
    username: str,
    password: str | None,
    role: str,
    email: str = "",
    reseller: Reseller | None = None,
    domains: Iterable[Domain | str] | None = None,
    active: bool = True,
    origin: Origin | None = None,
) -> User:
    """Superadmins create anyone; a reseller creates domain admins for its own domains.
    `password=None` leaves the account without a usable password (the faces generate one)."""
    if role not in User.Role.values:
        raise _field("role", f"Choose one of: {', '.join(User.Role.values)}.")
    _ensure_can_create_users(actor, role)
    if not is_system(actor) and actor.is_reseller:
        reseller = actor.reseller  # a reseller's domain admins are its pool's, whatever was sent
    if reseller is not None and not isinstance(reseller, Reseller):
        raise _field("reseller", "Choose a reseller.")
    if role == User.Role.RESELLER and reseller is None:
        raise _field("reseller", "A reseller user belongs to a reseller.")
    if role == User.Role.SUPERADMIN and reseller is not None:
        raise _field("reseller", "A superadmin belongs to no reseller.")
    if domains and role != User.Role.DOMAIN_ADMIN:
        raise _field("domains", "Only domain admins are given domains.")
    if not isinstance(active, bool):
        raise _field("active", "Give true or false.")
    username = _username(username)
    user = User(
        username=username,
        email=_email(email),
        role=role,
        reseller=reseller,
        is_active=active,
        is_superuser=role == User.Role.SUPERADMIN,
        is_staff=role == User.Role.SUPERADMIN,
    )
    given = _domains(actor, domains or [], reseller=reseller)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(_check_password(password, user))
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise _duplicate("username", f"{username} is taken.") from exc
    user.managed_domains.set(given)
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        changes=diff.created({**_user_state(user), "domains": [d.name for d in given]}),
        origin=origin,
    )
    return user


def _ensure_not_self(actor, user: User, field: str | None, message: str) -> None:
    """`field` None: not input to correct but a thing not done (PermissionDenied)."""
    if not is_system(actor) and actor.pk == user.pk:
        raise _field(field, message) if field else PermissionDenied(message)


@transaction.atomic
def user_update(*, actor, user: User, origin: Origin | None = None, **fields: Any) -> User:
    """Change a user's e-mail, active flag or (domain admins) domains; what is unchanged writes
    nothing. Nobody deactivates themselves: the last way in would go with it."""
    ensure_can_manage_user(actor, user)
    user = User.objects.select_for_update(of=("self",)).select_related("reseller").get(pk=user.pk)
    unknown = set(fields) - {"email", "active", "domains"}
    if unknown:
        raise _field(sorted(unknown)[0], "This field cannot be changed.")
    changes: dict[str, Any] = {}
    before = {**_user_state(user), "domains": sorted(d.name for d in user.managed_domains.all())}
    if "email" in fields:
        email = _email(fields["email"])
        if email != user.email:
            changes["email"] = email
    if "active" in fields:
        if not isinstance(fields["active"], bool):
            raise _field("active", "Give true or false.")
        if fields["active"] != user.is_active:
            if not fields["active"]:
                _ensure_not_self(actor, user, "active", "You cannot deactivate yourself.")
            changes["active"] = fields["active"]
    if "domains" in fields:
        if user.role != User.Role.DOMAIN_ADMIN or user.is_superuser:
            raise _field("domains", "Only domain admins are given domains.")
        wanted = _domains(actor, fields["domains"] or [], reseller=user.reseller)
        current = list(user.managed_domains.order_by("name"))
        # A reseller sees and changes only its own domains of the admin; others stay.
        kept = [d for d in current if not can_manage_domain(actor, d)]
        if {d.pk for d in wanted} | {d.pk for d in kept} != {d.pk for d in current}:
            user.managed_domains.set([*kept, *wanted])
            changes["domains"] = sorted(d.name for d in [*kept, *wanted])
    if not changes:
        return user
    if "email" in changes:
        user.email = changes["email"]
    if "active" in changes:
        user.is_active = changes["active"]
    user.save(update_fields=["email", "is_active"])
    after = {**_user_state(user), "domains": changes.get("domains", before["domains"])}
    audit_record(
        actor=actor,
        action="user.update",
        obj=user,
        changes=diff.diff(before, after),
        origin=origin,
    )
    return user


@transaction.atomic
def user_set_password(
    *, actor, user: User, password: str | None = None, origin: Origin | None = None
) -> str:
    """Set a user's password (checked against the password policy), or a generated one when
    none is given. Returns the password, for the face to show once; it is never audited.
    Users may always change their own; others' only who may manage them."""
    if is_system(actor) or actor.pk != user.pk:
        ensure_can_manage_user(actor, user)
    user = User.objects.select_for_update().get(pk=user.pk)
    generated = password is None
    password = generate_password() if generated else password
    user.set_password(_check_password(password, user))
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="user.password",
        obj=user,
        changes={
            **diff.secret_changed("password"),
            "generated": {"before": None, "after": generated},
        },
        origin=origin,
    )
    return password


@transaction.atomic
def user_delete(*, actor, user: User, origin: Origin | None = None) -> None:
    """Delete a panel user; its API keys go with it, its audit events stay (actor emptied)."""
    ensure_can_manage_user(actor, user)
    _ensure_not_self(actor, user, None, "You cannot delete yourself.")
    audit_record(
        actor=actor,
        action="user.delete",
        obj=user,
        changes=diff.deleted(
            {**_user_state(user), "domains": [d.name for d in user.managed_domains.all()]}
        ),
        origin=origin,
    )
    user.delete()


def user_password_rehashed(*, user: User, old_hash: str, origin: Origin | None = None) -> None:
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
        changes={"algorithm": {"before": old, "after": identify_hasher(user.password).algorithm}},
        origin=origin,
    )
