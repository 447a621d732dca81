"""Reads of resellers and users, scoped to what the actor may see."""

from django.db.models import Q, QuerySet

from accounts.models import Reseller, User
from audit.models import AuditEvent
from domains.models import Alias, Domain, Mailbox
from domains.selectors import count_of, quota_sum_of


def reseller_list(*, actor) -> QuerySet[Reseller]:
    """Resellers with their pool usage: all for superadmins, its own for a reseller."""
    qs = Reseller.objects.annotate(
        used_domains=count_of(Domain, "reseller"),
        used_mailboxes=count_of(Mailbox, "domain__reseller"),
        used_aliases=count_of(Alias, "domain__reseller"),
        used_quota_bytes=quota_sum_of("domain__reseller"),
    ).order_by("name")
    if actor.is_superadmin:
        return qs
    if actor.is_reseller:
        return qs.filter(pk=actor.reseller_id)
    return qs.none()


def audit_event_list(*, actor) -> QuerySet[AuditEvent]:
    """Audit events a panel user may read: everything for superadmins; for a reseller, what its
    own people did (its users and the admins of its domains); for a domain admin, its own."""
    qs = AuditEvent.objects.select_related("actor").order_by("-created", "-id")
    if actor.is_superadmin:
        return qs
    if actor.is_reseller:
        people = User.objects.filter(
            Q(reseller_id=actor.reseller_id) | Q(managed_domains__reseller_id=actor.reseller_id)
        )
        return qs.filter(actor__in=people.values("pk"))
    return qs.filter(actor=actor)
