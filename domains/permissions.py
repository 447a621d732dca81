"""Who may touch what. Selectors scope reads with these rules; services re-check on writes."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from accounts.models import Reseller
from domains.models import Domain


def is_system(actor) -> bool:
    """`actor=None` is the system itself (CLI, tests, Celery)."""
    return actor is None


def is_trusted(actor) -> bool:
    """The operator: superadmins and the system. Tenants (resellers, domain admins) are not."""
    return is_system(actor) or actor.is_superadmin


def domain_scope_q(actor, prefix: str = "") -> Q:
    """A filter that keeps the domains `actor` may manage, for any model reaching Domain via
    `prefix` (e.g. "domain__")."""
    if is_system(actor) or actor.is_superadmin:
        return Q()
    if actor.is_reseller:
        return Q(**{f"{prefix}reseller_id": actor.reseller_id})
    return Q(**{f"{prefix}admins": actor})


def can_manage_domain(actor, domain: Domain) -> bool:
    if is_system(actor) or actor.is_superadmin:
        return True
    if not actor.is_active:
        return False
    if actor.is_reseller:
        return domain.reseller_id is not None and domain.reseller_id == actor.reseller_id
    return actor.managed_domains.filter(pk=domain.pk).exists()


READ_ONLY = "This reseller is deactivated: its domains can be read but not changed."


def ensure_can_manage_domain(actor, domain: Domain) -> None:
    """The check before every write to a domain's data: in reach, and not frozen."""
    if not can_manage_domain(actor, domain):
        raise PermissionDenied("You do not manage this domain.")
    if not is_trusted(actor) and domain.reseller_id is not None:
        # A deactivated reseller's users and its domain admins keep reading, never writing.
        if Reseller.objects.filter(pk=domain.reseller_id, active=False).exists():
            raise PermissionDenied(READ_ONLY)


def ensure_can_administer_domains(actor) -> None:
    """Creating/deleting domains and changing their limits: superadmins and resellers only."""
    if not (is_system(actor) or actor.is_superadmin or actor.is_reseller):
        raise PermissionDenied("Only superadmins and resellers manage domains themselves.")
    if actor is not None and actor.is_reseller and not actor.reseller.active:
        raise PermissionDenied(READ_ONLY)
