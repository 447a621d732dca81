"""Every write to the mail data goes through these functions (the web panel, the API, the CLI).

Each is keyword-only, runs in one transaction, checks the actor's reach, validates through
domains.normalize / domains.passwords, enforces limits through domains.limits, and records an audit
event. A committed change is live for Postfix and Dovecot at once (they read views over these rows).
The faces hand over what the caller sent; deciding what actually changed is done here, so an update
that changes nothing writes nothing and needs no more rights than reading.
"""

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Reseller
from audit import diff
from audit.origin import Origin
from audit.services import audit_record
from domains import hostwork, limits, routing, trash, units, verification
from domains.models import (
    Alias,
    AliasDomain,
    AliasRecipient,
    AppPassword,
    Domain,
    Mailbox,
    MailboxForward,
    QuotaUsage,
    RelayRecipient,
    SenderGrant,
    TrashItem,
    TrashName,
    maildir_for,
)
from domains.normalize import (
    INT32_MAX,
    normalize_address,
    normalize_domain,
    normalize_text,
    split_address,
)
from domains.passwords import (
    hash_password,
    needs_rehash,
    split_scheme,
    validate_password_hash,
    validate_plain_password,
    verify_password,
)
from domains.permissions import (
    READ_ONLY,
    can_manage_domain,
    ensure_can_administer_domains,
    ensure_can_manage_domain,
    is_system,
    is_trusted,
)
from domains.policy import check_claimable, normalize_transport
from domains.selectors import domain_contents

DOMAIN_LIMIT_FIELDS = (
    "max_mailboxes",
    "max_aliases",
    "max_quota_per_mailbox",
    "total_quota",
    "default_quota",
)


DOMAIN_QUOTA_FIELDS = ("max_quota_per_mailbox", "total_quota", "default_quota")

# What the audit trail shows of each object (audit.diff: before/after, never a hash).
DOMAIN_AUDIT = (
    "name",
    "kind",
    "transport",
    "description",
    "active",
    "reseller_id",
    "relay_accept_all",
    "verified_at",
    *DOMAIN_LIMIT_FIELDS,
)
ALIAS_DOMAIN_AUDIT = ("name", "target", "active", "verified_at")
MAILBOX_AUDIT = (
    "address",
    "name",
    "quota_bytes",
    "active",
    "allow_imap",
    "allow_pop3",
    "allow_smtp",
    "keep_copy",
)
ALIAS_AUDIT = ("address", "active", "description")


def _mailbox_state(mailbox) -> dict[str, Any]:
    return {
        **diff.snapshot(mailbox, MAILBOX_AUDIT),
        "forward_to": [f.address for f in mailbox.forwards.all()],
    }


def _alias_state(alias) -> dict[str, Any]:
    return {
        **diff.snapshot(alias, ALIAS_AUDIT),
        "recipients": [r.address for r in alias.recipients.all()],
    }


def _field_error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _forbidden(field: str, message: str) -> ValidationError:
    """A field only the operator may set (the API answers 403 and names the field)."""
    return _field_error(field, message, code="forbidden")


def _verified_at(actor, verified: bool | None):
    """When a new (alias) domain counts as verified: tenants' names wait for their DNS proof;
    the operator's are live at once unless it asks for the check (verified=False)."""
    if verified and not is_trusted(actor):
        raise _forbidden(
            "verified",
            "Only a superadmin adds a domain as verified: publish the TXT record and verify it.",
        )
    if verified is None:
        verified = is_trusted(actor)
    return timezone.now() if verified else None


def _normalized(field: str, func, value, **kwargs):
    """Run a normaliser and re-raise its error under the input field's name."""
    try:
        return func(value, **kwargs)
    except ValidationError as exc:
        raise ValidationError({field: exc.error_list}) from exc


def _insert(obj, field: str, duplicate_message: str) -> None:
    """Save a new row; losing a unique-index race to a concurrent create is the same clean error
    as the duplicate check before it."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise _field_error(field, duplicate_message, "duplicate") from exc


def _non_negative_int(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _field_error(field, "Give a whole number of 0 or more.")
    return value


def _limit_value(field: str, value: Any) -> int:
    """A domain limit: a whole number >= 0; the quota ones at most MAILADMIN_MAX_QUOTA_BYTES,
    the counts at most what their integer column holds."""
    value = _non_negative_int(field, value)
    if field in DOMAIN_QUOTA_FIELDS:
        units.check_quota(field, value)
    elif value > INT32_MAX:
        raise _field_error(field, f"At most {INT32_MAX}.")
    return value


def _text(field: str, value: Any, max_length: int = 255) -> str:
    """A one-line description or display name (domains.normalize.normalize_text)."""
    return _normalized(field, normalize_text, value, max_length=max_length)


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _field_error(field, "Give true or false.")
    return value


def _name_taken(name: str) -> bool:
    return (
        Domain.objects.filter(name=name).exists() or AliasDomain.objects.filter(name=name).exists()
    )


def _address_taken(address: str, *, exclude_alias: int | None = None) -> bool:
    return (
        Mailbox.objects.filter(address=address).exists()
        or Alias.objects.filter(address=address).exclude(pk=exclude_alias).exists()
    )


def _reserved(name: str, *, actor, reseller_id: int | None) -> bool:
    """Whether `name` (a domain name or an address) is kept by a trash item of another owner
    than `reseller_id` (None: the operator's), so only that owner may take it while the item
    can be restored. The operator may always."""
    if is_trusted(actor):
        return False
    return TrashName.objects.filter(name=name).exclude(item__reseller_id=reseller_id).exists()


def _reserved_error(field: str, name: str) -> ValidationError:
    return _field_error(field, f"{name} is reserved.", code="trash_reserved")


def _no_domain(field: str, name: str) -> ValidationError:
    return _field_error(field, f"The domain {name} does not exist.", code="no_domain")


def _ensure_active_actor(actor) -> None:
    if not is_system(actor) and not actor.is_active:
        raise PermissionDenied("This account is disabled.")


def _local_domain(name: str, field: str, actor) -> Domain:
    """The local domain `name` as `actor` may use it. A domain out of the actor's reach gets the
    very answer a missing one gets: a tenant learns nothing about the others' names."""
    _ensure_active_actor(actor)
    domain = Domain.objects.filter(name=name).first()
    if domain is None or not can_manage_domain(actor, domain):
        alias_domain = AliasDomain.objects.select_related("target").filter(name=name).first()
        if alias_domain is not None and can_manage_domain(actor, alias_domain.target):
            raise _field_error(
                field, f"{name} is an alias domain; create the address at its target."
            )
        raise _no_domain(field, name)
    if domain.kind != Domain.Kind.LOCAL:
        raise _field_error(field, f"{name} is not a domain with local mailboxes.")
    return domain


def domain_in_reach(*, actor, name: str, field: str) -> Domain:
    """The domain named `name` (Unicode or A-label) within `actor`'s reach, or the field error a
    missing domain gets."""
    _ensure_active_actor(actor)
    name = _normalized(field, normalize_domain, name)
    domain = Domain.objects.filter(name=name).first()
    if domain is None or not can_manage_domain(actor, domain):
        raise _no_domain(field, name)
    return domain


# --- Domains ------------------------------------------------------------------------------------


@transaction.atomic
def domain_create(
    *,
    actor,
    name: str,
    kind: str = Domain.Kind.LOCAL,
    transport: str = "",
    description: str = "",
    active: bool = True,
    reseller=None,
    max_mailboxes: int = 0,
    max_aliases: int = 0,
    max_quota_per_mailbox: int = 0,
    total_quota: int = 0,
    default_quota: int = 0,
    relay_accept_all: bool = False,
    verified: bool | None = None,
    origin: Origin | None = None,
) -> Domain:
    """A new domain. A tenant's is pending (no lookup serves it) until `domain_verify` finds its
    TXT record; names of the service itself, public suffixes and reserved names are the
    operator's alone (domains.policy)."""
    ensure_can_administer_domains(actor)
    if not is_system(actor) and actor.is_reseller:
        reseller = actor.reseller  # a reseller's domains always land in its own pool
    if reseller is not None and not isinstance(reseller, Domain.reseller.field.related_model):
        raise _field_error("reseller", "Choose a reseller.")
    name = _normalized("name", normalize_domain, name)
    check_claimable(name, trusted=is_trusted(actor))
    if kind not in Domain.Kind.values:
        raise _field_error("kind", f"Choose one of: {', '.join(Domain.Kind.values)}.")
    if transport and not is_trusted(actor):
        raise _forbidden("transport", "Only a superadmin chooses a relay transport.")
    transport = _validate_transport(kind, _text("transport", transport or ""))
    relay_accept_all = _accept_all(kind, relay_accept_all)
    verified_at = _verified_at(actor, verified)
    limits.check_domain_create(reseller.pk if reseller else None)
    if _name_taken(name):
        raise _field_error("name", f"The domain {name} already exists.", code="duplicate")
    if _reserved(name, actor=actor, reseller_id=reseller.pk if reseller else None):
        raise _reserved_error("name", name)
    domain = Domain(
        name=name,
        kind=kind,
        transport=transport,
        description=_text("description", description),
        active=_flag("active", active),
        reseller=reseller,
        relay_accept_all=relay_accept_all,
        verified_at=verified_at,
        verification_token=verification.new_token(),
    )
    given = {
        "max_mailboxes": max_mailboxes,
        "max_aliases": max_aliases,
        "max_quota_per_mailbox": max_quota_per_mailbox,
        "total_quota": total_quota,
        "default_quota": default_quota,
    }
    for field, value in given.items():
        setattr(domain, field, _limit_value(field, value))
    limits.check_domain_limits_fit(domain)
    _insert(domain, "name", f"The domain {name} already exists.")
    audit_record(
        actor=actor,
        action="domain.create",
        obj=domain,
        changes=diff.created(diff.snapshot(domain, DOMAIN_AUDIT)),
        origin=origin,
    )
    return domain


def _validate_transport(kind: str, transport: str) -> str:
    transport = (transport or "").strip()
    if kind != Domain.Kind.RELAY:
        if transport:
            raise _field_error("transport", "Only relay domains have a transport.")
        return ""
    return normalize_transport(
        transport, allow_internal=settings.MAILADMIN_TRANSPORT_ALLOW_INTERNAL
    )


def _accept_all(kind: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _field_error("relay_accept_all", "Give true or false.")
    if value and kind == Domain.Kind.LOCAL:
        raise _field_error(
            "relay_accept_all", "Only relay and backup domains accept unlisted recipients."
        )
    return value


@transaction.atomic
def domain_update(*, actor, domain: Domain, origin: Origin | None = None, **fields: Any) -> Domain:
    """Change what differs from the stored row. The kind, transport, active flag and limits are
    for superadmins and resellers; a domain admin may change the description."""
    ensure_can_manage_domain(actor, domain)
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    allowed = {
        "description",
        "active",
        "kind",
        "transport",
        "relay_accept_all",
        *DOMAIN_LIMIT_FIELDS,
    }
    unknown = set(fields) - allowed
    if unknown:
        raise _field_error(sorted(unknown)[0], "This field cannot be changed.")
    before = diff.snapshot(domain, DOMAIN_AUDIT)
    changes = {}
    for field, value in fields.items():
        if field in DOMAIN_LIMIT_FIELDS:
            value = _limit_value(field, value)
        elif field == "description":
            value = _text(field, value)
        elif field == "transport":
            value = _text(field, value or "")
        elif field == "active":
            value = _flag(field, value)
        if getattr(domain, field) != value:
            changes[field] = value
    if not changes:
        return domain
    if ({"kind", "transport", "active", "relay_accept_all"} | set(DOMAIN_LIMIT_FIELDS)) & set(
        changes
    ):
        ensure_can_administer_domains(actor)
    if (changes.get("transport") or "").strip() and not is_trusted(actor):
        # Clearing a transport is allowed; choosing where a relay sends mail is not.
        raise _forbidden("transport", "Only a superadmin chooses a relay transport.")
    for field, value in changes.items():
        setattr(domain, field, value)
    if "kind" in changes or "transport" in changes:
        if domain.kind not in Domain.Kind.values:
            raise _field_error("kind", f"Choose one of: {', '.join(Domain.Kind.values)}.")
        if domain.kind != Domain.Kind.LOCAL and (
            domain.mailboxes.exists() or domain.aliases.exists()
        ):
            raise _field_error("kind", "Remove the mailboxes and aliases first.")
        if domain.kind != Domain.Kind.LOCAL and domain.alias_domains.exists():
            # alias_domain_create's rule from the other side: an alias domain's target is local.
            raise _field_error(
                "kind", "Remove the alias domains first: their target must stay a local domain."
            )
        domain.transport = _validate_transport(domain.kind, domain.transport)
    if {"kind", "relay_accept_all"} & set(changes):
        if domain.kind == Domain.Kind.LOCAL and "relay_accept_all" not in changes:
            domain.relay_accept_all = False
        domain.relay_accept_all = _accept_all(domain.kind, domain.relay_accept_all)
    limits.check_domain_limits_fit(domain)
    domain.save()
    audit_record(
        actor=actor,
        action="domain.update",
        obj=domain,
        changes=diff.diff(before, diff.snapshot(domain, DOMAIN_AUDIT)),
        origin=origin,
    )
    return domain


class DomainNotEmpty(Exception):
    """Deleting a domain that still holds data needs `confirm=True`; `contents` says what would
    go (the API answers 409 with it, the panel asks for the tick)."""

    def __init__(self, domain: Domain, contents: dict[str, int]):
        self.domain = domain
        self.contents = contents
        super().__init__(f"{domain.name} is not empty; confirm to delete it with everything in it.")


@transaction.atomic
def domain_delete(
    *, actor, domain: Domain, confirm: bool = False, origin: Origin | None = None
) -> dict[str, int]:
    """Move a domain and what is in it to the trash (restorable for
    MAILADMIN_TRASH_RETENTION_DAYS, its names reserved for its owner meanwhile); its mailboxes'
    Maildirs are archived. A domain with anything in it (mailboxes, aliases, alias domains...)
    goes only with `confirm=True`; returns the counts that went."""
    ensure_can_administer_domains(actor)
    ensure_can_manage_domain(actor, domain)
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    contents = domain_contents(domain)
    if any(contents.values()) and confirm is not True:
        raise DomainNotEmpty(domain, contents)
    audit_record(
        actor=actor,
        action="domain.delete",
        obj=domain,
        changes=diff.deleted(
            {
                **diff.snapshot(domain, DOMAIN_AUDIT),
                **{k: v for k, v in contents.items() if v},
            }
        ),
        origin=origin,
    )
    maildirs = list(domain.mailboxes.order_by("pk").values_list("address", "maildir"))
    names = [domain.name, *domain.alias_domains.values_list("name", flat=True)]
    item = _to_trash(
        actor=actor,
        kind=TrashItem.Kind.DOMAIN,
        root=domain,
        domain=domain,
        gathered=trash.gather([domain]),
        names=names,
        contents={k: v for k, v in contents.items() if v},
    )
    for address, maildir in maildirs:
        hostwork.request(
            kind=hostwork.MAILDIR_ARCHIVE,
            actor=actor,
            address=address,
            args={"maildir": maildir, "trash_id": item.pk},
        )
    return contents


@transaction.atomic
def alias_domain_create(
    *,
    actor,
    name: str,
    target: Domain | str,
    active: bool = True,
    verified: bool | None = None,
    origin: Origin | None = None,
) -> AliasDomain:
    """Same ownership rules as domain_create: an alias domain receives mail just the same.
    `target` is a Domain or its name (resolved within the actor's reach)."""
    ensure_can_administer_domains(actor)
    if not isinstance(target, Domain):  # a name (anything else is refused as one)
        target = domain_in_reach(actor=actor, name=target, field="target")
    ensure_can_manage_domain(actor, target)
    name = _normalized("name", normalize_domain, name)
    check_claimable(name, trusted=is_trusted(actor))
    if target.kind != Domain.Kind.LOCAL:
        raise _field_error("target", "The target must be a domain with local mailboxes.")
    verified_at = _verified_at(actor, verified)
    if target.reseller_id:
        limits.check_domain_create(target.reseller_id)
    limits.check_alias_domains_of(target)
    if _name_taken(name):
        raise _field_error("name", f"The domain {name} already exists.", code="duplicate")
    if _reserved(name, actor=actor, reseller_id=target.reseller_id):
        raise _reserved_error("name", name)
    alias_domain = AliasDomain(
        name=name,
        target=target,
        active=_flag("active", active),
        verified_at=verified_at,
        verification_token=verification.new_token(),
    )
    _insert(alias_domain, "name", f"The domain {name} already exists.")
    audit_record(
        actor=actor,
        action="alias_domain.create",
        obj=alias_domain,
        changes=diff.created(diff.snapshot(alias_domain, ALIAS_DOMAIN_AUDIT)),
        origin=origin,
    )
    return alias_domain


@transaction.atomic
def alias_domain_update(
    *, actor, alias_domain: AliasDomain, active: bool, origin: Origin | None = None
) -> AliasDomain:
    ensure_can_manage_domain(actor, alias_domain.target)
    if _flag("active", active) == alias_domain.active:
        return alias_domain
    changes = diff.diff({"active": alias_domain.active}, {"active": active})
    alias_domain.active = active
    alias_domain.save(update_fields=["active", "modified"])
    audit_record(
        actor=actor,
        action="alias_domain.update",
        obj=alias_domain,
        changes=changes,
        origin=origin,
    )
    return alias_domain


@transaction.atomic
def alias_domain_delete(*, actor, alias_domain: AliasDomain, origin: Origin | None = None) -> None:
    ensure_can_administer_domains(actor)
    ensure_can_manage_domain(actor, alias_domain.target)
    audit_record(
        actor=actor,
        action="alias_domain.delete",
        obj=alias_domain,
        changes=diff.deleted(diff.snapshot(alias_domain, ALIAS_DOMAIN_AUDIT)),
        origin=origin,
    )
    alias_domain.delete()


# --- Ownership ----------------------------------------------------------------------------------


def domain_verify(
    *, actor, domain: Domain, force: bool = False, origin: Origin | None = None
) -> Domain:
    """Make a pending domain live once DNS holds its TXT record (domains.verification).

    `force` (superadmins and the system) skips DNS, for ownership proven some other way. The DNS
    query runs before the transaction, so no row is locked while waiting for it.
    """
    return _verify(actor, Domain, domain, domain, force, "domain.verify", origin)


def alias_domain_verify(
    *, actor, alias_domain: AliasDomain, force: bool = False, origin: Origin | None = None
) -> AliasDomain:
    return _verify(
        actor, AliasDomain, alias_domain, alias_domain.target, force, "alias_domain.verify", origin
    )


def _verify(actor, model, obj, owner: Domain, force: bool, action: str, origin: Origin | None):
    ensure_can_manage_domain(actor, owner)
    if force and not is_trusted(actor):
        raise _forbidden("force", "Only a superadmin verifies a domain without DNS.")
    if obj.is_verified:
        return obj
    token = obj.verification_token
    if not force:
        result = verification.check(obj.name, token)
        if not result.verified:
            raise _field_error("verification", result.message, code="not_verified")
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=obj.pk)
        if row.verified_at is None and row.verification_token == token:
            row.verified_at = timezone.now()
            row.save(update_fields=["verified_at", "modified"])
            audit_record(
                actor=actor,
                action=action,
                obj=row,
                changes={
                    **diff.diff({"verified_at": None}, {"verified_at": row.verified_at}),
                    "method": {"before": None, "after": "superadmin" if force else "dns"},
                },
                origin=origin,
            )
    return row


def verify_pending_domains(*, origin: Origin | None = None) -> dict[str, list[str]]:
    """Check every pending domain and alias domain once (the periodic job; also
    `manage.py verify_domains`). Returns the names made live and those still pending."""
    result: dict[str, list[str]] = {"verified": [], "pending": []}
    pending = [
        *Domain.objects.filter(verified_at__isnull=True).order_by("name"),
        *AliasDomain.objects.filter(verified_at__isnull=True).select_related("target"),
    ]
    for obj in pending:
        try:
            if isinstance(obj, Domain):
                domain_verify(actor=None, domain=obj, origin=origin)
            else:
                alias_domain_verify(actor=None, alias_domain=obj, origin=origin)
        except ValidationError:
            result["pending"].append(obj.name)
        else:
            result["verified"].append(obj.name)
    return result


# --- Relay recipients ---------------------------------------------------------------------------


@transaction.atomic
def relay_recipient_create(*, actor, address: str, origin: Origin | None = None) -> RelayRecipient:
    """A recipient a relay or backup domain accepts on port 25 (unless the domain accepts all)."""
    local, domain_name = _normalized("address", split_address, address)
    domain = domain_in_reach(actor=actor, name=domain_name, field="address")
    ensure_can_manage_domain(actor, domain)
    if domain.kind == Domain.Kind.LOCAL:
        raise _field_error(
            "address", f"{domain_name} has local mailboxes; its recipients are its addresses."
        )
    address = f"{local}@{domain_name}"
    if RelayRecipient.objects.filter(address=address).exists():
        raise _field_error("address", f"{address} already exists.", code="duplicate")
    recipient = RelayRecipient(domain=domain, local_part=local, address=address)
    _insert(recipient, "address", f"{address} already exists.")
    audit_record(
        actor=actor,
        action="relay_recipient.create",
        obj=recipient,
        changes=diff.created({"address": address}),
        origin=origin,
    )
    return recipient


@transaction.atomic
def relay_recipient_delete(
    *, actor, recipient: RelayRecipient, origin: Origin | None = None
) -> None:
    ensure_can_manage_domain(actor, recipient.domain)
    audit_record(
        actor=actor,
        action="relay_recipient.delete",
        obj=recipient,
        changes=diff.deleted({"address": recipient.address}),
        origin=origin,
    )
    recipient.delete()


# --- Mailboxes ----------------------------------------------------------------------------------


def _password_hash(password: str | None, password_hash: str | None, *, address: str) -> str:
    """The hash to store: an imported `{SCHEME}hash` as given (no plaintext, so the password
    policy cannot apply), or a plaintext password that passes the policy, hashed."""
    if password is not None and password_hash is not None:
        raise _field_error("password", "Give either a password or a password hash, not both.")
    if password_hash is not None:
        return _normalized("password_hash", validate_password_hash, password_hash)
    if password is None:
        raise _field_error("password", "A password is required.", code="required")
    _normalized(
        "password", validate_plain_password, password, names=(address, address.split("@")[0])
    )
    return hash_password(password)


@transaction.atomic
def mailbox_create(
    *,
    actor,
    address: str,
    password: str | None = None,
    password_hash: str | None = None,
    name: str = "",
    quota_bytes: int | None = None,
    active: bool = True,
    allow_imap: bool = True,
    allow_pop3: bool = True,
    allow_smtp: bool = True,
    forward_to: list[str] | None = None,
    keep_copy: bool = True,
    origin: Origin | None = None,
) -> Mailbox:
    local, domain_name = _normalized("address", split_address, address)
    domain = _local_domain(domain_name, "address", actor)
    ensure_can_manage_domain(actor, domain)
    address = f"{local}@{domain_name}"
    hashed = _password_hash(password, password_hash, address=address)
    quota = domain.default_quota if quota_bytes is None else quota_bytes
    quota = units.check_quota("quota_bytes", _non_negative_int("quota_bytes", quota))
    domain = limits.check_mailbox_create(domain, quota)
    if _address_taken(address):
        raise _field_error("address", f"{address} already exists.", code="duplicate")
    if _reserved(address, actor=actor, reseller_id=domain.reseller_id):
        raise _reserved_error("address", address)
    mailbox = Mailbox(
        domain=domain,
        local_part=local,
        address=address,
        name=_text("name", name),
        password=hashed,
        quota_bytes=quota,
        active=_flag("active", active),
        allow_imap=_flag("allow_imap", allow_imap),
        allow_pop3=_flag("allow_pop3", allow_pop3),
        allow_smtp=_flag("allow_smtp", allow_smtp),
        keep_copy=_flag("keep_copy", keep_copy),
        maildir=maildir_for(local, domain.name),
        # A deleted mailbox of this address may still be being archived: wait for it, so the
        # new owner starts with an empty Maildir.
        maildir_busy=hostwork.address_pending(address),
    )
    _insert(mailbox, "address", f"{address} already exists.")
    state = diff.snapshot(mailbox, MAILBOX_AUDIT)
    state["forward_to"] = _set_forwards(mailbox, forward_to, actor=actor) if forward_to else []
    state["password"] = "(set)"
    audit_record(
        actor=actor,
        action="mailbox.create",
        obj=mailbox,
        changes=diff.created(state),
        origin=origin,
    )
    return mailbox


MAILBOX_FIELDS = {"name", "quota_bytes", "active", "allow_imap", "allow_pop3", "allow_smtp"}


def _set_forwards(mailbox: Mailbox, forward_to: list[str], *, actor) -> list[str]:
    targets = _recipients(
        "forward_to",
        forward_to,
        actor=actor,
        limit=settings.MAILADMIN_MAX_FORWARDS,
        allow_empty=True,
    )
    if mailbox.address in targets:
        raise _field_error("forward_to", "Use keep_copy to keep mail in the mailbox itself.")
    _ensure_no_loop("forward_to", mailbox.address, targets, actor=actor)
    mailbox.forwards.all().delete()
    MailboxForward.objects.bulk_create(
        MailboxForward(mailbox=mailbox, address=target) for target in targets
    )
    return targets


@transaction.atomic
def mailbox_update(
    *,
    actor,
    mailbox: Mailbox,
    forward_to: list[str] | None = None,
    keep_copy: bool | None = None,
    origin: Origin | None = None,
    **fields: Any,
) -> Mailbox:
    """Change what differs from the stored row; `forward_to` replaces the forward list."""
    ensure_can_manage_domain(actor, mailbox.domain)
    unknown = set(fields) - MAILBOX_FIELDS
    if unknown:
        raise _field_error(sorted(unknown)[0], "This field cannot be changed.")
    for field in fields.keys() & {"active", "allow_imap", "allow_pop3", "allow_smtp"}:
        fields[field] = _flag(field, fields[field])
    if keep_copy is not None:
        keep_copy = _flag("keep_copy", keep_copy)
    if "name" in fields:
        fields["name"] = _text("name", fields["name"])
    return _mailbox_apply(
        actor=actor,
        mailbox=mailbox,
        forward_to=forward_to,
        keep_copy=keep_copy,
        fields=fields,
        origin=origin,
    )


def _mailbox_apply(
    *,
    actor,
    mailbox: Mailbox,
    forward_to,
    keep_copy,
    fields: dict,
    origin: Origin | None,
    by_owner: bool = False,
) -> Mailbox:
    current = Mailbox.objects.get(pk=mailbox.pk)
    changed = {k: v for k, v in fields.items() if getattr(current, k) != v}
    if keep_copy is not None and keep_copy == current.keep_copy:
        keep_copy = None
    if forward_to is not None and not isinstance(forward_to, list | tuple):
        raise _field_error("forward_to", "Give a list of addresses.")
    if forward_to is not None and list(forward_to) == [f.address for f in current.forwards.all()]:
        forward_to = None
    if not changed and keep_copy is None and forward_to is None:
        return current
    if "quota_bytes" in changed:
        quota = _non_negative_int("quota_bytes", changed["quota_bytes"])
        units.check_quota("quota_bytes", quota)
        domain, pool = limits.lock_pool_and_domain(mailbox.domain)
        limits.check_mailbox_quota(domain, pool, quota, exclude_pk=mailbox.pk)
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    before = _mailbox_state(mailbox)
    for field, value in changed.items():
        setattr(mailbox, field, value)
    if keep_copy is not None:
        mailbox.keep_copy = keep_copy
    mailbox.save()
    after = {**before, **diff.snapshot(mailbox, MAILBOX_AUDIT)}
    if forward_to is not None:
        after["forward_to"] = _set_forwards(mailbox, forward_to, actor=actor)
    audit_record(
        actor=actor,
        action="mailbox.update",
        obj=mailbox,
        changes=diff.diff(before, after),
        origin=origin,
        actor_label=mailbox.address if by_owner else "",
    )
    return mailbox


@transaction.atomic
def mailbox_set_password(
    *,
    actor,
    mailbox: Mailbox,
    password: str | None = None,
    password_hash: str | None = None,
    origin: Origin | None = None,
) -> Mailbox:
    ensure_can_manage_domain(actor, mailbox.domain)
    mailbox.password = _password_hash(password, password_hash, address=mailbox.address)
    mailbox.save(update_fields=["password", "modified"])
    audit_record(
        actor=actor,
        action="mailbox.password",
        obj=mailbox,
        changes=diff.secret_changed("password"),
        origin=origin,
    )
    return mailbox


# What a mailbox owner may do to its own mailbox (the web panel's owner pages): no actor with
# rights over a domain is involved, so these check the owner's knowledge instead of a role.


@transaction.atomic
def mailbox_owner_change_password(
    *, mailbox: Mailbox, current_password: str, new_password: str, origin: Origin | None = None
) -> Mailbox:
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    if not verify_password(current_password or "", mailbox.password):
        raise _field_error("current_password", "This is not the current password.", "wrong")
    if new_password == current_password:
        raise _field_error("password", "Choose a password different from the current one.")
    mailbox.password = _password_hash(new_password, None, address=mailbox.address)
    mailbox.save(update_fields=["password", "modified"])
    audit_record(
        actor=None,
        action="mailbox.password",
        obj=mailbox,
        changes=diff.secret_changed("password"),
        origin=origin,
        actor_label=mailbox.address,
    )
    return mailbox


@transaction.atomic
def mailbox_rehash_password(
    *, mailbox: Mailbox, password: str, origin: Origin | None = None
) -> Mailbox:
    """After a successful login with `password`: replace a hash whose scheme or cost is not the
    configured one (an imported {SHA512-CRYPT} or {BLF-CRYPT} moves to {ARGON2ID}). Only if the
    stored hash is still the one the login verified; the audit event names the schemes, never
    a hash. The policy is not applied: this is the password the mailbox already has."""
    locked = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    if locked.password != mailbox.password or not needs_rehash(locked.password):
        return locked
    old_scheme = split_scheme(locked.password)[0]
    locked.password = hash_password(password)
    locked.save(update_fields=["password", "modified"])
    audit_record(
        actor=None,
        action="mailbox.password_rehash",
        obj=locked,
        changes={"scheme": {"before": old_scheme, "after": split_scheme(locked.password)[0]}},
        origin=origin,
        actor_label=locked.address,
    )
    return locked


@transaction.atomic
def mailbox_owner_set_forwarding(
    *, mailbox: Mailbox, forward_to: list[str], keep_copy: bool, origin: Origin | None = None
) -> Mailbox:
    """The owner's forwarding, under the rules an admin's change follows (no loops, recipients
    in local domains must exist)."""
    return _mailbox_apply(
        actor=None,
        mailbox=mailbox,
        forward_to=forward_to,
        keep_copy=keep_copy,
        fields={},
        origin=origin,
        by_owner=True,
    )


@transaction.atomic
def mailbox_delete(*, actor, mailbox: Mailbox, origin: Origin | None = None) -> None:
    """Move a mailbox to the trash with what goes with it (forwards, grants, app passwords,
    and what pointed at its address: recipients of other aliases, and the aliases they leave
    empty); its Maildir is archived. Restorable for MAILADMIN_TRASH_RETENTION_DAYS."""
    ensure_can_manage_domain(actor, mailbox.domain)
    mailbox = Mailbox.objects.select_for_update().select_related("domain").get(pk=mailbox.pk)
    # Aliases pointing here would bounce: drop the recipient, and aliases left with none.
    pointing = list(AliasRecipient.objects.filter(address=mailbox.address).order_by("pk"))
    alias_ids = {r.alias_id for r in pointing}
    others = AliasRecipient.objects.filter(alias_id__in=alias_ids).exclude(address=mailbox.address)
    emptied = list(
        Alias.objects.filter(pk__in=alias_ids)
        .exclude(pk__in=others.values("alias_id"))
        .select_related("domain")
        .order_by("pk")
    )
    for alias in emptied:
        audit_record(
            actor=actor,
            action="alias.delete",
            obj=alias,
            changes={
                **diff.deleted(diff.snapshot(alias, ALIAS_AUDIT)),
                "reason": {"before": None, "after": "empty"},
            },
            origin=origin,
        )
    audit_record(
        actor=actor,
        action="mailbox.delete",
        obj=mailbox,
        changes=diff.deleted(_mailbox_state(mailbox)),
        origin=origin,
    )
    emptied_ids = {a.pk for a in emptied}
    gathered = trash.gather(
        [mailbox, *emptied, *(r for r in pointing if r.alias_id not in emptied_ids)]
    )
    contents = {
        "forwards": len(gathered.data.get(MailboxForward, ())),
        "sender_grants": len(gathered.data.get(SenderGrant, ())),
        "app_passwords": len(gathered.data.get(AppPassword, ())),
        "aliases": len(emptied),
        "alias_recipients": len(pointing),
    }
    address, maildir = mailbox.address, mailbox.maildir
    item = _to_trash(
        actor=actor,
        kind=TrashItem.Kind.MAILBOX,
        root=mailbox,
        domain=mailbox.domain,
        gathered=gathered,
        # Emptied aliases of another owner (an alias may name any address) are not reserved.
        names=[
            address,
            *(a.address for a in emptied if a.domain.reseller_id == mailbox.domain.reseller_id),
        ],
        contents={k: v for k, v in contents.items() if v},
    )
    # The Maildir is archived on the mail hosts (restorable with the item), not left for the
    # next owner of the address.
    hostwork.request(
        kind=hostwork.MAILDIR_ARCHIVE,
        actor=actor,
        address=address,
        args={"maildir": maildir, "trash_id": item.pk},
    )


@transaction.atomic
def mailbox_rename(
    *, actor, mailbox: Mailbox, address: str, origin: Origin | None = None
) -> Mailbox:
    """Give a mailbox a new address in one of the actor's domains. Its Maildir moves on the mail
    hosts; until that is done the lookups answer a temporary failure for it (`maildir_busy`),
    so mail waits in the sender's queue instead of landing in a directory being moved."""
    ensure_can_manage_domain(actor, mailbox.domain)
    local, domain_name = _normalized("address", split_address, address)
    domain = _local_domain(domain_name, "address", actor)
    ensure_can_manage_domain(actor, domain)
    new_address = f"{local}@{domain_name}"
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    if new_address == mailbox.address:
        return mailbox
    if domain.pk != mailbox.domain_id:
        raise _field_error("address", "A mailbox can be renamed within its own domain only.")
    if _address_taken(new_address) or hostwork.address_pending(new_address):
        raise _field_error("address", f"{new_address} already exists.", code="duplicate")
    if _reserved(new_address, actor=actor, reseller_id=domain.reseller_id):
        raise _reserved_error("address", new_address)
    old_address, old_maildir = mailbox.address, mailbox.maildir
    mailbox.local_part = local
    mailbox.address = new_address
    mailbox.maildir = maildir_for(local, domain.name)
    mailbox.maildir_busy = True
    _insert(mailbox, "address", f"{new_address} already exists.")
    # What pointed at the old address follows it; Dovecot's usage row is keyed by it too.
    AliasRecipient.objects.filter(address=old_address).update(address=new_address)
    QuotaUsage.objects.filter(mailbox=mailbox).update(username=new_address)
    hostwork.request(
        kind=hostwork.MAILDIR_MOVE,
        actor=actor,
        address=new_address,
        args={"from": old_maildir, "to": mailbox.maildir, "old_address": old_address},
    )
    audit_record(
        actor=actor,
        action="mailbox.rename",
        obj=mailbox,
        changes=diff.diff(
            {"address": old_address, "maildir": old_maildir},
            {"address": new_address, "maildir": mailbox.maildir},
        ),
        origin=origin,
    )
    return mailbox


# --- Aliases ------------------------------------------------------------------------------------


def _recipients(
    field: str, values: list[str], *, actor, limit: int, allow_empty: bool = False
) -> list[str]:
    """Normalised, de-duplicated targets. An address in one of the actor's own local domains must
    exist; any other address is external to this actor, whether or not it is served here, so the
    answer never tells another tenant's addresses apart (domains.routing)."""
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise _field_error(field, "Give a list of addresses.")
    if not values and not allow_empty:
        raise _field_error(field, "Give at least one recipient.", code="required")
    if len(values) > limit:
        raise _field_error(field, f"At most {limit} addresses.", code="limit")
    result = list(dict.fromkeys(_normalized(field, normalize_address, v) for v in values))
    missing = routing.missing_in_scope(actor, result)
    if missing:
        raise _field_error(field, f"{missing[0]} does not exist here.", code="no_recipient")
    return result


def _ensure_no_loop(field: str, start: str, targets: list[str], *, actor) -> None:
    """Refuse a change after which mail for `start` would come back to `start` (a -> b -> a);
    the message shows the way mail would go."""
    path = routing.loop_path(actor, start, targets)
    if path:
        raise _field_error(
            field, f"This would make a loop back to {start}: {' → '.join(path)}.", code="loop"
        )


@transaction.atomic
def alias_create(
    *,
    actor,
    address: str,
    recipients: list[str],
    active: bool = True,
    description: str = "",
    origin: Origin | None = None,
) -> Alias:
    local, domain_name = _normalized("address", split_address, address, allow_catchall=True)
    domain = _local_domain(domain_name, "address", actor)
    ensure_can_manage_domain(actor, domain)
    address = f"{local}@{domain_name}"
    domain = limits.check_alias_create(domain)
    if _address_taken(address):
        raise _field_error("address", f"{address} already exists.", code="duplicate")
    if _reserved(address, actor=actor, reseller_id=domain.reseller_id):
        raise _reserved_error("address", address)
    targets = _recipients(
        "recipients", recipients, actor=actor, limit=settings.MAILADMIN_MAX_ALIAS_RECIPIENTS
    )
    if local:
        _ensure_no_loop("recipients", address, targets, actor=actor)
    alias = Alias(
        domain=domain,
        local_part=local,
        address=address,
        active=_flag("active", active),
        description=_text("description", description),
    )
    _insert(alias, "address", f"{address} already exists.")
    AliasRecipient.objects.bulk_create(AliasRecipient(alias=alias, address=t) for t in targets)
    audit_record(
        actor=actor,
        action="alias.create",
        obj=alias,
        changes=diff.created({**diff.snapshot(alias, ALIAS_AUDIT), "recipients": targets}),
        origin=origin,
    )
    return alias


@transaction.atomic
def alias_update(
    *,
    actor,
    alias: Alias,
    recipients: list[str] | None = None,
    active: bool | None = None,
    description: str | None = None,
    origin: Origin | None = None,
) -> Alias:
    """Change what differs from the stored row; `recipients` replaces the list."""
    ensure_can_manage_domain(actor, alias.domain)
    alias = Alias.objects.select_for_update().get(pk=alias.pk)
    before = _alias_state(alias)
    changes: dict[str, Any] = {}
    if active is not None and _flag("active", active) != alias.active:
        alias.active = changes["active"] = active
    if description is not None and _text("description", description) != alias.description:
        alias.description = changes["description"] = description
    if recipients is not None and not isinstance(recipients, list | tuple):
        raise _field_error("recipients", "Give a list of addresses.")
    if recipients is not None and list(recipients) == [r.address for r in alias.recipients.all()]:
        recipients = None
    if not changes and recipients is None:
        return alias
    alias.save()
    if recipients is not None:
        targets = _recipients(
            "recipients", recipients, actor=actor, limit=settings.MAILADMIN_MAX_ALIAS_RECIPIENTS
        )
        if alias.local_part:
            _ensure_no_loop("recipients", alias.address, targets, actor=actor)
        alias.recipients.all().delete()
        AliasRecipient.objects.bulk_create(AliasRecipient(alias=alias, address=t) for t in targets)
        changes["recipients"] = targets
    after = {**before, **changes}
    audit_record(
        actor=actor,
        action="alias.update",
        obj=alias,
        changes=diff.diff(before, after),
        origin=origin,
    )
    return alias


@transaction.atomic
def alias_delete(*, actor, alias: Alias, origin: Origin | None = None) -> None:
    ensure_can_manage_domain(actor, alias.domain)
    audit_record(
        actor=actor,
        action="alias.delete",
        obj=alias,
        changes=diff.deleted(_alias_state(alias)),
        origin=origin,
    )
    alias.delete()


# --- Sender identities --------------------------------------------------------------------------


@transaction.atomic
def sender_grant_create(
    *, actor, mailbox: Mailbox | str, address: str, origin: Origin | None = None
) -> SenderGrant:
    """`mailbox` is a Mailbox or its address (resolved within the actor's reach)."""
    if not isinstance(mailbox, Mailbox):  # an address (anything else is refused as one)
        mailbox = _mailbox_in_reach(actor, mailbox, "mailbox")
    ensure_can_manage_domain(actor, mailbox.domain)
    local, domain_name = _normalized("address", split_address, address, allow_catchall=True)
    # A grant belongs to a domain served here (an alias domain's name means its target: grants
    # hold under the alias domains anyway), so it goes with that domain.
    domain = Domain.objects.filter(name=domain_name).first() or getattr(
        AliasDomain.objects.select_related("target").filter(name=domain_name).first(),
        "target",
        None,
    )
    # Only addresses in domains the actor manages: no claiming someone else's identity. A
    # foreign domain gets the words a domain that is not served here gets.
    if domain is None or not can_manage_domain(actor, domain):
        raise _field_error("address", "You can only grant addresses in your own domains.")
    grant, created = SenderGrant.objects.get_or_create(
        mailbox=mailbox, local_part=local, domain=domain
    )
    if created:
        audit_record(
            actor=actor,
            action="sender_grant.create",
            obj=grant,
            changes=diff.created({"mailbox": mailbox.address, "address": grant.address}),
            origin=origin,
        )
    return grant


def _mailbox_in_reach(actor, address: str, field: str) -> Mailbox:
    _ensure_active_actor(actor)
    address = _normalized(field, normalize_address, address)
    mailbox = Mailbox.objects.select_related("domain").filter(address=address).first()
    if mailbox is None or not can_manage_domain(actor, mailbox.domain):
        raise _field_error(field, f"There is no mailbox {address}.", "no_mailbox")
    return mailbox


@transaction.atomic
def sender_grant_delete(*, actor, grant: SenderGrant, origin: Origin | None = None) -> None:
    ensure_can_manage_domain(actor, grant.mailbox.domain)
    audit_record(
        actor=actor,
        action="sender_grant.delete",
        obj=grant,
        changes=diff.deleted({"mailbox": grant.mailbox.address, "address": grant.address}),
        origin=origin,
    )
    grant.delete()


# --- App passwords --------------------------------------------------------------------------------
# 28 characters from 31 unambiguous ones: 138 bits, shown in groups of four. The SHA-256 of the
# whole string (dashes included) is stored and is what Dovecot looks up (docs/security.md).
APP_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
APP_PASSWORD_CHARS = 28


def app_password_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _app_password_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _field_error("name", "Give the app password a name.", code="required")
    name = name.strip()
    if len(name) > AppPassword._meta.get_field("name").max_length:
        raise _field_error("name", "At most 100 characters.", code="max_length")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Cf") for c in name):
        raise _field_error("name", "The name contains characters that cannot be used.")
    return name


def _app_password_create(
    mailbox: Mailbox, name: Any, protocol: Any, *, actor, by_owner: bool, origin: Origin | None
):
    name = _app_password_name(name)
    if protocol not in AppPassword.Protocol.values:
        raise _field_error(
            "protocol",
            f"Choose one of: {', '.join(AppPassword.Protocol.values)}.",
            "invalid_choice",
        )
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)  # serialises the count
    if mailbox.app_passwords.count() >= settings.MAILADMIN_MAX_APP_PASSWORDS:
        raise _field_error(
            "name",
            f"A mailbox has at most {settings.MAILADMIN_MAX_APP_PASSWORDS} app passwords.",
            "limit",
        )
    raw = "".join(secrets.choice(APP_PASSWORD_ALPHABET) for _ in range(APP_PASSWORD_CHARS))
    secret = "-".join(raw[i : i + 4] for i in range(0, APP_PASSWORD_CHARS, 4))
    app_password = AppPassword.objects.create(
        mailbox=mailbox, name=name, protocol=protocol, secret_hash=app_password_hash(secret)
    )
    audit_record(
        actor=actor,
        action="app_password.create",
        obj=app_password,
        changes=diff.created({"mailbox": mailbox.address, "name": name, "protocol": protocol}),
        origin=origin,
        actor_label=mailbox.address if by_owner else "",
    )
    return app_password, secret


@transaction.atomic
def app_password_create(
    *, actor, mailbox: Mailbox, name: str, protocol: str, origin: Origin | None = None
) -> tuple[AppPassword, str]:
    """A new app password for one protocol (imap, pop3, smtp); returns it and its secret,
    which is not stored and cannot be shown again."""
    ensure_can_manage_domain(actor, mailbox.domain)
    return _app_password_create(mailbox, name, protocol, actor=actor, by_owner=False, origin=origin)


@transaction.atomic
def mailbox_owner_app_password_create(
    *, mailbox: Mailbox, name: str, protocol: str, origin: Origin | None = None
) -> tuple[AppPassword, str]:
    return _app_password_create(mailbox, name, protocol, actor=None, by_owner=True, origin=origin)


def _app_password_delete(
    app_password: AppPassword, *, actor, by_owner: bool, origin: Origin | None
) -> None:
    state = {
        "mailbox": app_password.mailbox.address,
        "name": app_password.name,
        "protocol": app_password.protocol,
    }
    audit_record(
        actor=actor,
        action="app_password.delete",
        obj=app_password,
        changes=diff.deleted(state),
        origin=origin,
        actor_label=app_password.mailbox.address if by_owner else "",
    )
    app_password.delete()


@transaction.atomic
def app_password_delete(*, actor, app_password: AppPassword, origin: Origin | None = None) -> None:
    """Revoke: the row goes, and with it the lookup row Dovecot reads, at commit."""
    ensure_can_manage_domain(actor, app_password.mailbox.domain)
    _app_password_delete(app_password, actor=actor, by_owner=False, origin=origin)


@transaction.atomic
def mailbox_owner_app_password_delete(
    *, mailbox: Mailbox, app_password: AppPassword, origin: Origin | None = None
) -> None:
    if app_password.mailbox_id != mailbox.pk:
        raise AppPassword.DoesNotExist
    _app_password_delete(app_password, actor=None, by_owner=True, origin=origin)


# --- The trash ----------------------------------------------------------------------------------
# A deleted domain or mailbox is a TrashItem holding its rows (domains.trash); the live rows are
# gone, so no lookup, selector or limit sees it. Its names stay reserved for its owner
# (_reserved) until it is restored or purged.


def _to_trash(
    *, actor, kind: str, root, domain: Domain, gathered, names: list[str], contents: dict
) -> TrashItem:
    now = timezone.now()
    item = TrashItem.objects.create(
        kind=kind,
        object_id=root.pk,
        name=root.name if kind == TrashItem.Kind.DOMAIN else root.address,
        reseller_id=domain.reseller_id,
        domain_id=domain.pk,
        domain_name=domain.name,
        deleted_at=now,
        deleted_by=actor if getattr(actor, "pk", None) else None,
        purge_after=now + timedelta(days=settings.MAILADMIN_TRASH_RETENTION_DAYS),
        contents=contents,
        payload=trash.snapshot(gathered),
    )
    TrashName.objects.bulk_create(TrashName(item=item, name=n) for n in dict.fromkeys(names))
    gathered.delete()
    return item


def _ensure_can_manage_trash(actor, item: TrashItem) -> None:
    """Restoring and purging: the operator; the reseller that owned it; for a mailbox, the
    domain admins of its domain. A deactivated reseller's users only read."""
    _ensure_active_actor(actor)
    if is_trusted(actor):
        return
    if item.kind == TrashItem.Kind.DOMAIN:
        ensure_can_administer_domains(actor)
    if actor.is_reseller:
        if item.reseller_id is None or item.reseller_id != actor.reseller_id:
            raise PermissionDenied("You do not manage this item.")
        if not actor.reseller.active:
            raise PermissionDenied(READ_ONLY)
        return
    if item.domain_id is None or not actor.managed_domains.filter(pk=item.domain_id).exists():
        raise PermissionDenied("You do not manage this item.")
    if item.reseller_id and Reseller.objects.filter(pk=item.reseller_id, active=False).exists():
        raise PermissionDenied(READ_ONLY)


def _locked_item(item: TrashItem) -> TrashItem:
    """The item, locked; one restored or purged by a concurrent request is a clean conflict."""
    locked = TrashItem.objects.select_for_update().filter(pk=item.pk).first()
    if locked is None:
        raise _field_error("item", "This is no longer in the trash.", code="gone")
    return locked


def _rows(item: TrashItem, *models: str) -> list[dict[str, Any]]:
    return [row for row in item.payload if row["model"] in models]


@transaction.atomic
def trash_restore(*, actor, item: TrashItem, origin: Origin | None = None) -> Domain | Mailbox:
    """Put a trashed domain or mailbox back with everything that went with it, under the ids it
    had. Refused, with nothing written, when its domain is not there (a mailbox), a name of it
    was taken meanwhile, or it no longer fits the reseller's limits. Its Maildirs are moved back
    from their archive on the mail hosts."""
    item = _locked_item(item)
    _ensure_can_manage_trash(actor, item)
    mailboxes = _rows(item, "domains.mailbox")
    if item.kind == TrashItem.Kind.DOMAIN:
        root = _rows(item, "domains.domain")[0]
        reseller_id = root["fields"]["reseller"]
        if reseller_id is not None and not Reseller.objects.filter(pk=reseller_id).exists():
            raise _field_error(
                "reseller", "The reseller this domain belonged to no longer exists.", "gone"
            )
        names = [r["fields"]["name"] for r in _rows(item, "domains.domain", "domains.aliasdomain")]
        limits.check_domain_restore(
            reseller_id,
            domains=len(names),
            mailboxes=len(mailboxes),
            aliases=len(_rows(item, "domains.alias")),
            quota_bytes=sum(r["fields"]["quota_bytes"] for r in mailboxes),
        )
        for name in names:
            if _name_taken(name):
                raise _field_error("name", f"The domain {name} exists again.", code="duplicate")
    else:
        domain = Domain.objects.filter(pk=item.domain_id).first()
        if domain is None:
            raise _field_error(
                "domain",
                f"The domain {item.domain_name} is not there any more; restore it first.",
                code="gone",
            )
        ensure_can_manage_domain(actor, domain)
        limits.check_mailbox_create(domain, mailboxes[0]["fields"]["quota_bytes"])
    payload = _restorable(item)
    try:
        with transaction.atomic():
            left_out = trash.restore(payload)
    except IntegrityError as exc:  # a unique value taken meanwhile that the checks above miss
        raise _field_error(
            "name", "Something in it conflicts with what exists now.", code="duplicate"
        ) from exc
    for row in mailboxes:
        hostwork.request(
            kind=hostwork.MAILDIR_RESTORE,
            actor=actor,
            address=row["fields"]["address"],
            args={"trash_id": item.pk, "to": row["fields"]["maildir"]},
        )
    changes = diff.created({"kind": item.kind, "name": item.name})
    if left_out or len(payload) < len(item.payload):
        changes["left_out"] = {
            "before": None,
            "after": len(left_out) + len(item.payload) - len(payload),
        }
    audit_record(actor=actor, action="trash.restore", obj=item, changes=changes, origin=origin)
    model = Domain if item.kind == TrashItem.Kind.DOMAIN else Mailbox
    restored = model.objects.get(pk=item.object_id)
    item.delete()
    return restored


def _restorable(item: TrashItem) -> list[dict[str, Any]]:
    """The payload to save back. An address of the item's own that exists again refuses the
    restore; what it took from others (an alias of another owner left empty, a recipient in
    another's alias) is put back only where it still fits, so nobody else's new data is
    overwritten and the refusal names nothing of theirs. A few queries per chunk of rows, not
    per row: a trashed domain can hold a hundred thousand."""
    addressed = _rows(item, "domains.mailbox", "domains.alias")
    taken: set[str] = set()
    for chunk in trash.batches([row["fields"]["address"] for row in addressed]):
        taken.update(Mailbox.objects.filter(address__in=chunk).values_list("address", flat=True))
        taken.update(Alias.objects.filter(address__in=chunk).values_list("address", flat=True))
    clashing = [row for row in addressed if row["fields"]["address"] in taken]
    foreign_domains = {
        row["fields"]["domain"] for row in clashing if row["model"] == "domains.alias"
    } - {item.domain_id}
    owned = set(
        Domain.objects.filter(pk__in=foreign_domains, reseller_id=item.reseller_id).values_list(
            "pk", flat=True
        )
    )
    skip: set[tuple[str, Any]] = set()
    for row in clashing:
        domain = row["fields"]["domain"]
        if row["model"] == "domains.alias" and domain != item.domain_id and domain not in owned:
            skip.add((row["model"], row["pk"]))
            continue
        raise _field_error("address", f"{row['fields']['address']} exists again.", code="duplicate")
    # Aliases a mailbox's deletion emptied come back only within their domain's alias limits
    # now (a domain in the payload comes back whole, its pool checked by the caller).
    restored_domains = {row["pk"] for row in _rows(item, "domains.domain")}
    returning: dict[int, list[dict[str, Any]]] = {}
    for row in _rows(item, "domains.alias"):
        domain = row["fields"]["domain"]
        if ("domains.alias", row["pk"]) not in skip and domain not in restored_domains:
            returning.setdefault(domain, []).append(row)
    if returning:
        fits = limits.aliases_that_fit({d: len(rows) for d, rows in returning.items()})
        for domain, rows in returning.items():
            for row in rows[fits.get(domain, 0) :]:
                skip.add((row["model"], row["pk"]))
    # Recipients put back into aliases that exist now: only where absent, and within
    # MAILADMIN_MAX_ALIAS_RECIPIENTS. (A skipped alias's recipients have no parent: left out.)
    recipients = _rows(item, "domains.aliasrecipient")
    present: set[tuple[int, str]] = set()
    counts: dict[int, int] = {}
    for chunk in trash.batches(sorted({row["fields"]["alias"] for row in recipients})):
        for alias_id, address in AliasRecipient.objects.filter(alias_id__in=chunk).values_list(
            "alias_id", "address"
        ):
            present.add((alias_id, address))
            counts[alias_id] = counts.get(alias_id, 0) + 1
    cap = settings.MAILADMIN_MAX_ALIAS_RECIPIENTS
    for row in recipients:
        alias_id = row["fields"]["alias"]
        if (alias_id, row["fields"]["address"]) in present or counts.get(alias_id, 0) >= cap:
            skip.add((row["model"], row["pk"]))
        elif alias_id in counts:  # an alias that exists now
            counts[alias_id] += 1
    return [row for row in item.payload if (row["model"], row["pk"]) not in skip]


def _purge(actor, item: TrashItem, origin: Origin | None = None) -> None:
    for row in _rows(item, "domains.mailbox"):
        hostwork.request(
            kind=hostwork.MAILDIR_PURGE,
            actor=actor,
            address=row["fields"]["address"],
            args={"trash_id": item.pk},
        )
    audit_record(
        actor=actor,
        action="trash.purge",
        obj=item,
        changes=diff.deleted({"kind": item.kind, "name": item.name}),
        origin=origin,
    )
    item.delete()


@transaction.atomic
def trash_purge(*, actor, item: TrashItem, origin: Origin | None = None) -> None:
    """Delete a trash item for good now: its rows, its reserved names and its archived
    Maildirs (purged on the mail hosts)."""
    item = _locked_item(item)
    _ensure_can_manage_trash(actor, item)
    _purge(actor, item, origin)


def trash_purge_expired(*, now: datetime | None = None) -> int:
    """Beat (`domains.trash_purge_expired`): purge the items past their `purge_after`, one
    transaction each. Returns how many went."""
    now = now or timezone.now()
    due = TrashItem.objects.filter(purge_after__lte=now).order_by("pk")
    count = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            item = (
                TrashItem.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, purge_after__lte=now)
                .first()
            )
            if item is not None:
                _purge(None, item)
                count += 1
    return count
