"""Reads, scoped to what the actor may see. Views and the API list through these."""

from django.db.models import Count, QuerySet

from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.permissions import domain_scope_q


def domain_list(*, actor) -> QuerySet[Domain]:
    return (
        Domain.objects.filter(domain_scope_q(actor))
        .select_related("reseller")
        .annotate(mailbox_count=Count("mailboxes", distinct=True))
        .annotate(alias_count=Count("aliases", distinct=True))
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
