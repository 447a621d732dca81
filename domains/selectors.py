"""Reads, scoped to what the actor may see. The web pages and the API both list through these."""

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from domains.models import (
    Alias,
    AliasDomain,
    AppPassword,
    Domain,
    Mailbox,
    RelayRecipient,
    SenderGrant,
    TrashItem,
)
from domains.permissions import domain_scope_q, is_system


def count_of(model, path: str):
    """A correlated COUNT of `model` rows whose `path` is the outer row (one index probe per row,
    where joining two child tables at once would multiply their rows)."""
    sub = (
        model.objects.filter(**{path: OuterRef("pk")})
        .order_by()
        .values(path)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), 0)


def quota_sum_of(path: str):
    """The sum of mailbox quotas whose `path` is the outer row."""
    sub = (
        Mailbox.objects.filter(**{path: OuterRef("pk")})
        .order_by()
        .values(path)
        .annotate(s=Sum("quota_bytes"))
        .values("s")
    )
    return Coalesce(Subquery(sub), 0)


def domain_list(*, actor) -> QuerySet[Domain]:
    return (
        Domain.objects.filter(domain_scope_q(actor))
        .select_related("reseller")
        .annotate(mailbox_count=count_of(Mailbox, "domain"), alias_count=count_of(Alias, "domain"))
        .order_by("name")
    )


def mailbox_list(*, actor, domain: Domain | None = None) -> QuerySet[Mailbox]:
    qs = Mailbox.objects.filter(domain_scope_q(actor, "domain__")).select_related(
        "domain", "quota_usage"
    )
    if domain is not None:
        qs = qs.filter(domain=domain)
    return qs.order_by("address")


def alias_list(*, actor, domain: Domain | None = None) -> QuerySet[Alias]:
    qs = Alias.objects.filter(domain_scope_q(actor, "domain__")).select_related("domain")
    if domain is not None:
        qs = qs.filter(domain=domain)
    return qs.prefetch_related("recipients").order_by("address")


def alias_domain_list(*, actor) -> QuerySet[AliasDomain]:
    return AliasDomain.objects.filter(domain_scope_q(actor, "target__")).select_related("target")


def sender_grant_list(*, actor, mailbox: Mailbox | None = None) -> QuerySet[SenderGrant]:
    qs = SenderGrant.objects.filter(domain_scope_q(actor, "mailbox__domain__")).select_related(
        "mailbox", "domain"
    )
    if mailbox is not None:
        qs = qs.filter(mailbox=mailbox)
    return qs.order_by("id")


def scope_usage(*, actor) -> dict[str, int]:
    """What `actor` manages now: domain, mailbox and alias counts and the quota handed out."""
    mailboxes = Mailbox.objects.filter(domain_scope_q(actor, "domain__"))
    return {
        "domains": Domain.objects.filter(domain_scope_q(actor)).count(),
        "mailboxes": mailboxes.count(),
        "aliases": Alias.objects.filter(domain_scope_q(actor, "domain__")).count(),
        "quota_bytes": mailboxes.aggregate(s=Sum("quota_bytes"))["s"] or 0,
    }


def domain_page(*, actor) -> QuerySet[Domain]:
    """domain_list with what a domain's own page shows against its limits."""
    return domain_list(actor=actor).annotate(
        quota_given=quota_sum_of("domain"),
        alias_domain_count=count_of(AliasDomain, "target"),
    )


def domains_near_limits(*, actor, share: float = 0.8) -> QuerySet[Domain]:
    """Domains that use at least `share` of a mailbox or alias limit, fullest first."""
    return (
        domain_list(actor=actor)
        .filter(
            Q(max_mailboxes__gt=0, mailbox_count__gte=F("max_mailboxes") * share)
            | Q(max_aliases__gt=0, alias_count__gte=F("max_aliases") * share)
        )
        .order_by("name")
    )


def mailboxes_near_quota(*, actor, share: float = 0.9) -> QuerySet[Mailbox]:
    """Mailboxes whose usage (as Dovecot last wrote it) reaches `share` of their quota."""
    return (
        mailbox_list(actor=actor)
        .filter(quota_bytes__gt=0, quota_usage__bytes__gte=F("quota_bytes") * share)
        .order_by("-quota_usage__bytes", "address")
    )


def relay_recipient_list(*, actor) -> QuerySet[RelayRecipient]:
    return RelayRecipient.objects.filter(domain_scope_q(actor, "domain__")).select_related("domain")


def domain_contents(domain: Domain) -> dict[str, int]:
    """What deleting `domain` takes with it, by kind (the API's 409 and the panel's delete page
    show these same counts)."""
    kinds = {
        "mailboxes": count_of(Mailbox, "domain"),
        "aliases": count_of(Alias, "domain"),
        "alias_domains": count_of(AliasDomain, "target"),
        "sender_grants": count_of(SenderGrant, "domain"),
        "relay_recipients": count_of(RelayRecipient, "domain"),
    }
    row = (
        Domain.objects.filter(pk=domain.pk)
        .annotate(**{f"n_{kind}": count for kind, count in kinds.items()})
        .values(*(f"n_{kind}" for kind in kinds))
        .first()
    ) or {}
    return {kind: row.get(f"n_{kind}") or 0 for kind in kinds}


def app_password_list(*, actor, mailbox: Mailbox | None = None) -> QuerySet[AppPassword]:
    """App passwords of the mailboxes in the actor's domains (actor None: a mailbox owner's own,
    with `mailbox` given)."""
    qs = AppPassword.objects.select_related("mailbox", "use").filter(
        domain_scope_q(actor, "mailbox__domain__")
    )
    if mailbox is not None:
        qs = qs.filter(mailbox=mailbox)
    return qs.order_by("name", "id")


def trash_list(*, actor) -> QuerySet[TrashItem]:
    """Trash items in the actor's reach, newest first, without their payload (it holds password
    hashes and is never shown): a reseller's own; for a domain admin, the mailboxes of its
    domains."""
    qs = TrashItem.objects.defer("payload").select_related("deleted_by")
    if is_system(actor) or actor.is_superadmin:
        return qs.order_by("-deleted_at", "-id")
    if actor.is_reseller:
        qs = qs.filter(reseller_id=actor.reseller_id)
    else:
        qs = qs.filter(
            kind=TrashItem.Kind.MAILBOX, domain_id__in=actor.managed_domains.values("pk")
        )
    return qs.order_by("-deleted_at", "-id")
