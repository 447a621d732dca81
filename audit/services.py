from typing import Any

from django.db import models

from audit.models import AuditEvent


def audit_record(
    *, actor: Any, action: str, obj: models.Model, changes: dict[str, Any] | None = None
) -> AuditEvent:
    """Record a change. Called inside the service's transaction, so it commits with the change."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:400],
        changes=changes or {},
    )
