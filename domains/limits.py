"""Resource limits: the one place the web panel, the API and the CLI go through.

Each check locks the rows whose counters it reads (reseller pool first, then the domain: one order
everywhere, so no deadlock) and must run inside the caller's transaction. On PostgreSQL two racing
creates therefore serialise on the lock and the second one sees the first one's row.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum

from accounts.models import Reseller
from domains.models import Alias, AliasDomain, Domain, Mailbox
from domains.units import format_size


def _lock_reseller(reseller_id: int | None) -> Reseller | None:
    if reseller_id is None:
        return None
    return Reseller.objects.select_for_update().get(pk=reseller_id)


def _lock_domain(domain_id: int) -> Domain:
    return Domain.objects.select_for_update().get(pk=domain_id)


def _limit_error(field: str, message: str) -> ValidationError:
    # The code must sit on the message: ValidationError({...}, code=...) drops it.
    return ValidationError({field: [ValidationError(message, code="limit")]})


def _over(limit: int, value: int) -> bool:
    return limit > 0 and value > limit


def _quota_sum(queryset) -> int:
    return queryset.aggregate(total=Sum("quota_bytes"))["total"] or 0


def _lock_pool_for_domains(reseller_id: int | None, adding: int) -> Reseller | None:
    """Lock the reseller's pool and check that `adding` more domain names fit it. Alias domains
    count too: alias_domain_create checks this same limit."""
    pool = _lock_reseller(reseller_id)
    if pool is None:
        return None
    if not pool.active:
        raise ValidationError({"reseller": "This reseller is disabled."})
    used = pool.domains.count() + AliasDomain.objects.filter(target__reseller=pool).count()
    if _over(pool.max_domains, used + adding):
        raise _limit_error(
            "name",
            f"The reseller's limit of {pool.max_domains} domains is reached.",
        )
    return pool


def check_domain_create(reseller_id: int | None) -> None:
    _lock_pool_for_domains(reseller_id, 1)


def check_mailbox_quota(
    domain: Domain, pool: Reseller | None, quota_bytes: int, exclude_pk: int | None = None
) -> None:
    """Quota rules for one mailbox; `domain` and `pool` must already be locked."""
    finite_required = domain.max_quota_per_mailbox or domain.total_quota
    if pool is not None and pool.max_quota_bytes:
        finite_required = True
    if quota_bytes == 0 and finite_required:
        raise _limit_error(
            "quota_bytes",
            "An unlimited quota is not allowed here; give a size.",
        )
    if _over(domain.max_quota_per_mailbox, quota_bytes):
        raise _limit_error(
            "quota_bytes",
            f"The domain allows at most {format_size(domain.max_quota_per_mailbox)} per mailbox.",
        )
    others = Mailbox.objects.exclude(pk=exclude_pk)
    if domain.total_quota:
        used = _quota_sum(others.filter(domain=domain))
        if used + quota_bytes > domain.total_quota:
            raise _limit_error(
                "quota_bytes",
                f"The domain's total quota of {format_size(domain.total_quota)} "
                f"would be exceeded ({format_size(used)} already given out).",
            )
    if pool is not None and pool.max_quota_bytes:
        used = _quota_sum(others.filter(domain__reseller=pool))
        if used + quota_bytes > pool.max_quota_bytes:
            raise _limit_error(
                "quota_bytes",
                f"The reseller's quota pool of {format_size(pool.max_quota_bytes)} "
                f"would be exceeded ({format_size(used)} already given out).",
            )


def lock_pool_and_domain(domain: Domain) -> tuple[Domain, Reseller | None]:
    pool = _lock_reseller(domain.reseller_id)
    return _lock_domain(domain.pk), pool


def _check_count(domain: Domain, pool: Reseller | None, model, noun: str) -> None:
    """One more `model` row (mailbox or alias) must fit the domain's and the pool's limits."""
    domain_limit = getattr(domain, f"max_{noun}")
    if _over(domain_limit, model.objects.filter(domain=domain).count() + 1):
        raise _limit_error("address", f"The domain's limit of {domain_limit} {noun} is reached.")
    pool_limit = getattr(pool, f"max_{noun}", 0)
    if pool_limit and _over(pool_limit, model.objects.filter(domain__reseller=pool).count() + 1):
        raise _limit_error("address", f"The reseller's limit of {pool_limit} {noun} is reached.")


def check_mailbox_create(domain: Domain, quota_bytes: int) -> Domain:
    """Lock and check; returns the locked (fresh) domain row."""
    domain, pool = lock_pool_and_domain(domain)
    _check_count(domain, pool, Mailbox, "mailboxes")
    check_mailbox_quota(domain, pool, quota_bytes)
    return domain


def check_alias_create(domain: Domain) -> Domain:
    domain, pool = lock_pool_and_domain(domain)
    _check_count(domain, pool, Alias, "aliases")
    return domain


def check_alias_domains_of(target: Domain) -> None:
    """One more alias domain for `target` must fit MAILADMIN_MAX_ALIAS_DOMAINS. Every alias
    domain repeats each address of its target in the lookup tables (docs/lookups.md), so the
    number per domain bounds how many rows one mailbox costs. Locks the target row; the caller
    has locked the reseller pool first, if any."""
    target = _lock_domain(target.pk)
    limit = settings.MAILADMIN_MAX_ALIAS_DOMAINS
    if AliasDomain.objects.filter(target=target).count() + 1 > limit:
        raise _limit_error("target", f"A domain may have at most {limit} alias domains.")


def check_domain_limits_fit(domain: Domain) -> None:
    """New domain limits may not be below what is already in use."""
    errors = {}
    if domain.default_quota and _over(domain.max_quota_per_mailbox, domain.default_quota):
        errors["default_quota"] = "The default quota is above the per-mailbox maximum."
    if domain.pk is not None:  # a new domain has no usage yet
        mailboxes = domain.mailboxes.all()
        # An unlimited mailbox (quota 0) is above any finite quota limit.
        unlimited = mailboxes.filter(quota_bytes=0).exists()
        if domain.max_mailboxes and mailboxes.count() > domain.max_mailboxes:
            errors["max_mailboxes"] = "The domain already has more mailboxes than that."
        if domain.max_aliases and domain.aliases.count() > domain.max_aliases:
            errors["max_aliases"] = "The domain already has more aliases than that."
        if domain.max_quota_per_mailbox and (
            unlimited or mailboxes.filter(quota_bytes__gt=domain.max_quota_per_mailbox).exists()
        ):
            errors["max_quota_per_mailbox"] = (
                "Some mailboxes already have a larger (or unlimited) quota."
            )
        if domain.total_quota and (unlimited or _quota_sum(mailboxes) > domain.total_quota):
            errors["total_quota"] = (
                "The mailboxes' quotas already add up to more than that (or are unlimited)."
            )
    if errors:
        raise ValidationError(
            {field: [ValidationError(message, code="limit")] for field, message in errors.items()}
        )


def check_domain_restore(
    reseller_id: int | None, *, domains: int, mailboxes: int, aliases: int, quota_bytes: int
) -> None:
    """A domain coming back from the trash with `domains` names (itself and its alias domains)
    and its mailboxes, aliases and quota must fit the reseller's pool as it is now. Locks the
    pool row; the domain's own limits held when it was deleted and come back with it."""
    pool = _lock_pool_for_domains(reseller_id, domains)
    if pool is None:
        return
    for model, noun, count in ((Mailbox, "mailboxes", mailboxes), (Alias, "aliases", aliases)):
        limit = getattr(pool, f"max_{noun}")
        if count and _over(limit, model.objects.filter(domain__reseller=pool).count() + count):
            raise _limit_error("address", f"The reseller's limit of {limit} {noun} is reached.")
    if pool.max_quota_bytes:
        used = _quota_sum(Mailbox.objects.filter(domain__reseller=pool))
        if used + quota_bytes > pool.max_quota_bytes:
            raise _limit_error(
                "quota_bytes",
                f"The reseller's quota pool of {format_size(pool.max_quota_bytes)} "
                f"would be exceeded ({format_size(used)} already given out).",
            )


def aliases_that_fit(wanted: dict[int, int]) -> dict[int, int]:
    """Aliases coming back from the trash into domains that exist now (`{domain id: how many}`,
    the aliases a mailbox's deletion emptied): how many of each fit the domain's and its pool's
    alias limits as they are now. Locks the pools, then the domains, each in id order."""
    owners = Domain.objects.filter(pk__in=wanted).values_list("reseller_id", flat=True)
    pool_ids = sorted({pk for pk in owners if pk is not None})
    pools = {
        p.pk: p for p in Reseller.objects.select_for_update().filter(pk__in=pool_ids).order_by("pk")
    }
    domains = list(Domain.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    in_domain = dict(
        Alias.objects.filter(domain__in=domains).values_list("domain").annotate(n=Count("pk"))
    )
    in_pool = dict(
        Alias.objects.filter(domain__reseller__in=pool_ids)
        .values_list("domain__reseller")
        .annotate(n=Count("pk"))
    )
    fits = {}
    for domain in domains:
        room = wanted[domain.pk]
        if domain.max_aliases:
            room = min(room, max(0, domain.max_aliases - in_domain.get(domain.pk, 0)))
        pool = pools.get(domain.reseller_id)
        if pool is not None and pool.max_aliases:
            room = min(room, max(0, pool.max_aliases - in_pool.get(pool.pk, 0)))
            in_pool[pool.pk] = in_pool.get(pool.pk, 0) + room
        fits[domain.pk] = room
    return fits
