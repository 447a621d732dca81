from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit import diff
from audit.models import AuditEvent
from audit.origin import SYSTEM, Origin

PURGE_BATCH = 5000


def scope_of(obj: models.Model) -> tuple[int | None, int | None]:
    """(reseller id, domain id) the object belongs to, read from the object itself so the event
    keeps them after it is deleted. Global objects (hosts, the 2FA policy) belong to nobody:
    superadmins only."""
    label = obj._meta.label_lower
    if label == "accounts.reseller":
        return obj.pk, None
    if label == "accounts.user":
        return obj.reseller_id, None
    if label == "api.apikey":
        return obj.user.reseller_id, None
    if label == "domains.domain":
        return obj.reseller_id, obj.pk
    if label == "domains.trashitem":  # its domain may be gone: the ids it kept
        return obj.reseller_id, obj.domain_id
    domain = None
    if label == "domains.aliasdomain":
        domain = obj.target
    elif hasattr(obj, "domain_id"):
        domain = obj.domain
    elif hasattr(obj, "mailbox_id"):
        domain = obj.mailbox.domain
    if domain is None:
        return None, None
    return domain.reseller_id, domain.pk


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    changes: dict[str, Any] | None = None,
    origin: Origin | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Record a change. Called inside the service's transaction, so it commits with the change.
    `changes` is `audit.diff`'s shape; secrets are scrubbed whatever it holds. `actor_label`
    names an actor who is not a panel user (a mailbox owner)."""
    origin = origin or SYSTEM
    user = actor if getattr(actor, "pk", None) else None
    reseller_id, domain_id = scope_of(obj)
    return AuditEvent.objects.create(
        actor=user,
        actor_label=(user.get_username() if user else actor_label or origin.actor_label)[:150],
        channel=origin.channel,
        source_ip=origin.source_ip,
        user_agent=origin.user_agent,
        api_key_id=origin.api_key_id,
        api_key_label=origin.api_key_label,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:400],
        changes=diff.scrub(changes or {}),
        reseller_id=reseller_id,
        domain_id=domain_id,
    )


def audit_purge(*, now=None) -> int:
    """Delete events older than MAILADMIN_AUDIT_RETENTION_DAYS, a batch at a time (short
    statements, no long lock on a table the services write to). Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MAILADMIN_AUDIT_RETENTION_DAYS)
    total = 0
    while True:
        ids = list(
            AuditEvent.objects.filter(created__lt=cutoff)
            .order_by("created", "id")
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not ids:
            return total
        deleted, _ = AuditEvent.objects.filter(pk__in=ids).delete()
        total += deleted
