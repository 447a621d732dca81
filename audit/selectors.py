"""Reads of the audit trail, scoped by *whose objects* an event is about (the tenant columns
written with it), whoever acted: a superadmin's change to a reseller's domain is in that
reseller's list, another reseller's never is."""

import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from domains.models import AliasDomain, Domain
from domains.normalize import normalize_domain

SEARCH_MAX = 320


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, timezone.get_current_timezone())


def _domain_ids(value: str):
    """A domain name (Unicode or A-label; an alias domain means its target) or an id. A name
    that cannot exist matches nothing; a deleted domain is found by its id."""
    value = (value or "").strip()
    if value.isdigit():
        return [int(value)]
    try:
        name = normalize_domain(value)
    except ValidationError:
        return []
    return Domain.objects.filter(
        Q(name=name) | Q(pk__in=AliasDomain.objects.filter(name=name).values("target_id"))
    ).values("pk")


def audit_event_list(
    *,
    actor,
    who: str = "",
    action: str = "",
    object_type: str = "",
    channel: str = "",
    domain: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    search: str = "",
) -> QuerySet[AuditEvent]:
    """Events `actor` may read, newest first, filtered. Superadmins (and the system): all; a
    reseller: those about its tenants (its domains and what is in them, its users, its keys, its
    pool); a domain admin: those about its domains, and its own. `since`/`until` are days
    (whole days, in the panel's time zone); `search` matches the object by substring, or the
    action exactly."""
    qs = AuditEvent.objects.select_related("actor").order_by("-created", "-id")
    if actor is not None and not actor.is_superadmin:
        if actor.is_reseller:
            qs = qs.filter(reseller_id=actor.reseller_id)
        else:
            qs = qs.filter(
                Q(domain_id__in=actor.managed_domains.values("pk")) | Q(actor_id=actor.pk)
            )
    if who := (who or "").strip()[:150]:
        qs = qs.filter(actor_label__icontains=who)
    if action := (action or "").strip():
        qs = qs.filter(action=action)
    if object_type := (object_type or "").strip():
        qs = qs.filter(object_type=object_type)
    if channel := (channel or "").strip():
        qs = qs.filter(channel=channel)
    if domain := (domain or "").strip():
        qs = qs.filter(domain_id__in=_domain_ids(domain))
    if since:
        qs = qs.filter(created__gte=_day_start(since))
    if until:
        qs = qs.filter(created__lt=_day_start(until + datetime.timedelta(days=1)))
    if term := (search or "").strip()[:SEARCH_MAX]:
        qs = qs.filter(
            Q(object_repr__icontains=term) | Q(object_type__icontains=term) | Q(action=term)
        )
    return qs


OBJECT_TYPES = (
    "domains.domain",
    "domains.aliasdomain",
    "domains.mailbox",
    "domains.alias",
    "domains.relayrecipient",
    "domains.sendergrant",
    "domains.apppassword",
    "accounts.reseller",
    "accounts.user",
    "accounts.twofactorpolicy",
    "api.apikey",
    "mailhost.operation",
    "mailhost.mailhost",
)
