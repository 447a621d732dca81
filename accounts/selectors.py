"""Reads of resellers and users, scoped to what the actor may see."""

from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Reseller, User
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


def user_list(*, actor, search: str = "") -> QuerySet[User]:
    """Panel users `actor` may see: everyone for superadmins; for a reseller, its pool's people
    (its own logins and its domain admins); nobody for a domain admin. Their domains come in one
    prefetch, so a page of users costs the same at any size."""
    qs = (
        User.objects.select_related("reseller")
        .prefetch_related(
            Prefetch("managed_domains", queryset=Domain.objects.only("id", "name").order_by("name"))
        )
        .order_by("username")
    )
    if actor is None or actor.is_superadmin:
        pass
    elif actor.is_reseller:
        qs = qs.filter(reseller_id=actor.reseller_id, is_superuser=False)
    else:
        return qs.none()
    search = (search or "").strip()[:150]
    if search:
        qs = qs.filter(Q(username__icontains=search) | Q(email__icontains=search))
    return qs
