"""Writes for API keys. Like domains.services: keyword-only, one transaction, audited, and raising
ValidationError({field: [messages]}) or PermissionDenied."""

import ipaddress
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from api import keys
from api.models import APIKey
from audit import diff
from audit.origin import Origin
from audit.services import audit_record
from domains.normalize import normalize_text
from domains.permissions import is_system

MAX_NETWORKS = 100


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def normalize_networks(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise _error("allowed_networks", "Give a list of networks such as 192.0.2.0/24.")
    if len(values) > MAX_NETWORKS:
        raise _error("allowed_networks", f"At most {MAX_NETWORKS} networks.")
    result: list[str] = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError as exc:
            raise _error("allowed_networks", f"{value!s:.60} is not a network.") from exc
        if str(network) not in result:
            result.append(str(network))
    return result


def network_allows(networks: list[str], address: str | None) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(n) for n in networks)


def _within(child: list[str], parent: list[str]) -> bool:
    if not parent:
        return True
    if not child:
        return False
    parents = [ipaddress.ip_network(p) for p in parent]
    for value in child:
        net = ipaddress.ip_network(value)
        if not any(net.version == p.version and net.subnet_of(p) for p in parents):
            return False
    return True


@transaction.atomic
def api_key_create(
    *,
    actor,
    user,
    name: str = "",
    read_only: bool = False,
    expires_at: datetime | None = None,
    allowed_networks: list[str] | None = None,
    via_key: APIKey | None = None,
    origin: Origin | None = None,
) -> tuple[APIKey, str]:
    """Create a key for `user`; returns the row and the full key, which is never shown again.

    Users create keys for themselves; superadmins (and the system, i.e. the CLI) for anyone. A key
    made with another key cannot outlive it or reach beyond its networks.
    """
    if not (is_system(actor) or actor.is_superadmin or actor.pk == user.pk):
        raise PermissionDenied("You can only create API keys for yourself.")
    if not user.is_active:
        raise _error("user", "This user is disabled.")
    name = (name or "").strip() if isinstance(name, str | None) else name
    try:
        name = normalize_text(name, max_length=100)
    except ValidationError as exc:
        raise ValidationError({"name": exc.error_list}) from exc
    networks = normalize_networks(allowed_networks)
    if expires_at is not None and not (
        isinstance(expires_at, datetime) and timezone.is_aware(expires_at)
    ):
        raise _error("expires_at", "Give a date and time with its time zone.")
    if expires_at is not None and expires_at <= timezone.now():
        raise _error("expires_at", "The expiry must be in the future.")
    if via_key is not None:
        if via_key.expires_at is not None and (
            expires_at is None or expires_at > via_key.expires_at
        ):
            raise _error("expires_at", "A key made with a key cannot outlive it.")
        if not _within(networks, via_key.allowed_networks):
            raise _error("allowed_networks", "A key made with a key must stay within its networks.")
        read_only = read_only or via_key.read_only
    secret = keys.new_secret()
    for _attempt in range(5):
        prefix = keys.new_prefix()
        if APIKey.objects.filter(prefix=prefix).exists():
            continue
        key = APIKey(
            user=user,
            name=name,
            prefix=prefix,
            secret_hash=keys.hash_secret(secret),
            read_only=bool(read_only),
            expires_at=expires_at,
            allowed_networks=networks,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        try:
            with transaction.atomic():
                key.save()
        except IntegrityError:
            continue
        break
    else:  # pragma: no cover - 36^8 prefixes
        raise _error("name", "Could not allocate a key id; try again.")
    audit_record(
        actor=actor,
        action="api_key.create",
        obj=key,
        changes=diff.created(_key_state(key)),
        origin=origin,
    )
    return key, keys.format_key(prefix, secret)


def _key_state(key: APIKey) -> dict:
    return {
        "user": key.user.username,
        "name": key.name,
        "prefix": key.display_prefix,
        "read_only": key.read_only,
        "expires_at": key.expires_at,
        "allowed_networks": key.allowed_networks,
        "revoked_at": key.revoked_at,
    }


def _ensure_owner(actor, key: APIKey) -> None:
    if not (is_system(actor) or actor.is_superadmin or actor.pk == key.user_id):
        raise PermissionDenied("This is not your key.")


@transaction.atomic
def api_key_revoke(*, actor, key: APIKey, origin: Origin | None = None) -> APIKey:
    _ensure_owner(actor, key)
    key = APIKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_key.revoke",
            obj=key,
            changes=diff.diff({"revoked_at": None}, {"revoked_at": key.revoked_at}),
            origin=origin,
        )
    return key


@transaction.atomic
def api_key_delete(*, actor, key: APIKey, origin: Origin | None = None) -> None:
    _ensure_owner(actor, key)
    audit_record(
        actor=actor,
        action="api_key.delete",
        obj=key,
        changes=diff.deleted(_key_state(key)),
        origin=origin,
    )
    key.delete()
