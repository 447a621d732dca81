"""Which names a tenant may claim, and where a relay may send mail.

A tenant (reseller, domain admin) is an adversary here: a domain it adds is mail it receives, and
a transport it sets is where other tenants' mail to that domain goes. Superadmins (and the system:
CLI, tests) are trusted operators and may add any name; nobody may point a relay at the mail
server's own network unless the operator's setting allows it. Values and how to change them:
docs/security.md.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from publicsuffixlist import PublicSuffixList

from domains.normalize import normalize_domain

# Host names that resolve to this machine or a private network by convention (RFC 6761, 6762,
# 8375 and common practice), refused as relay next hops like loopback addresses are.
INTERNAL_HOST_SUFFIXES = ("localhost", "localdomain", "local", "internal", "lan", "home.arpa")
ALLOWED_TRANSPORTS = ("smtp", "lmtp")


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    # The list shipped inside the publicsuffixlist package (no download), ICANN and private
    # sections both: github.io is as much "everyone's" as co.uk.
    return PublicSuffixList(only_icann=False)


def _under(name: str, parent: str) -> bool:
    return name == parent or name.endswith("." + parent)


def _setting_names(values) -> list[str]:
    names = []
    for value in values:
        try:
            names.append(normalize_domain(value))
        except ValidationError:
            names.append(str(value).strip().lower().rstrip("."))  # e.g. a bare TLD entry
    return [n for n in names if n]


def server_names() -> list[str]:
    """The mail server's own host names: MAIL_HOSTNAME and MAILADMIN_SERVER_HOSTNAMES."""
    return _setting_names([settings.MAIL_HOSTNAME, *settings.MAILADMIN_SERVER_HOSTNAMES])


def _server_zones() -> list[str]:
    """Each server name's registrable domain: mail.example.net reserves example.net and all of
    its names, where the operator's own postmaster, abuse and host names live."""
    zones = []
    for name in server_names():
        zones.append(_public_suffixes().privatesuffix(name) or name)
    return zones


def reserved_reason(name: str) -> str | None:
    """Why a tenant may not claim the (normalised) domain `name`, or None."""
    if _public_suffixes().is_public(name):
        return f"{name} is a public suffix: names under it belong to many owners."
    for zone in _server_zones():
        if _under(name, zone):
            return f"{name} belongs to the mail service itself."
    for reserved in _setting_names(settings.MAILADMIN_RESERVED_DOMAINS):
        if _under(name, reserved):
            return f"{name} is reserved on this service."
    return None


def check_claimable(name: str, *, trusted: bool, field: str = "name") -> None:
    """Refuse a name a tenant may not add (superadmins and the system may add any)."""
    if trusted:
        return
    reason = reserved_reason(name)
    if reason:
        raise ValidationError(
            {field: [ValidationError(f"{reason} Ask the operator.", code="reserved")]}
        )


# --- Relay transports ---------------------------------------------------------------------------


def _transport_error(message: str) -> ValidationError:
    return ValidationError({"transport": [ValidationError(message, code="invalid")]})


def _check_address(text: str, allow_internal: bool) -> str:
    """The bracket form of an IP next hop, if the address is public."""
    version6 = text.lower().startswith("ipv6:")
    try:
        ip = ipaddress.ip_address(text[5:] if version6 else text)
    except ValueError as exc:
        raise _transport_error(f"{text} is not an IP address.") from exc
    if (ip.version == 6) != version6:
        raise _transport_error("Write an IPv6 next hop as [ipv6:2001:db8::25].")
    embedded = None
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
    if not allow_internal and (not ip.is_global or (embedded and not embedded.is_global)):
        raise _transport_error(
            f"{ip} is not a public address: loopback, private, link-local and reserved "
            "networks are not relay targets here."
        )
    return f"ipv6:{ip.compressed}" if version6 else str(ip)


def _check_host(text: str, allow_internal: bool) -> str:
    try:
        host = normalize_domain(text)
    except ValidationError as exc:
        raise _transport_error(f"{text} is not a host name: {' '.join(exc.messages)}") from exc
    if allow_internal:
        return host
    if any(_under(host, suffix) for suffix in INTERNAL_HOST_SUFFIXES):
        raise _transport_error(f"{host} names this machine or a private network.")
    if any(_under(host, own) for own in server_names()):
        raise _transport_error(f"{host} is this mail server itself.")
    return host


def normalize_transport(value: str, *, allow_internal: bool = False) -> str:
    """Parse a relay's Postfix transport and return its stored form, or raise.

    Accepted: `smtp:` or `lmtp:` with a next hop `host`, `host:port`, `[host]`, `[host]:port`,
    `[192.0.2.1]:port` or `[ipv6:2001:db8::1]:port` (`lmtp:inet:` is read as `lmtp:`); a bare
    `host` means `smtp:[host]`. Refused unless `allow_internal`: loopback, private, link-local
    and other non-public addresses, `localhost` and similar names, this server's own names, and
    `lmtp:unix:` sockets. Host names are checked as written; what they resolve to at delivery
    time is DNS's answer (docs/security.md).
    """
    text = (value or "").strip()
    if not text:
        raise _transport_error("A relay needs a next hop, e.g. smtp:[mx.example]:25.")
    if any(c in text for c in " \t\r\n,'\"\\()<>;|$`"):
        raise _transport_error("A transport is one word like smtp:[mx.example]:25.")
    if ":" not in text or text.startswith("["):
        text = f"smtp:{text if text.startswith('[') else f'[{text}]'}"
    transport, _, nexthop = text.partition(":")
    transport = transport.lower()
    if transport not in ALLOWED_TRANSPORTS:
        raise _transport_error(
            f"Only {' and '.join(t + ':' for t in ALLOWED_TRANSPORTS)} transports relay here."
        )
    if transport == "lmtp" and nexthop.lower().startswith("inet:"):
        nexthop = nexthop[5:]
    if nexthop.lower().startswith("unix:"):
        path = nexthop[5:]
        if not allow_internal:
            raise _transport_error("A UNIX socket is this machine itself, not a relay target.")
        if transport != "lmtp" or not path.startswith("/") or ".." in path:
            raise _transport_error("Give lmtp:unix: an absolute socket path.")
        return f"lmtp:unix:{path}"
    if nexthop.startswith("["):
        host, closing, rest = nexthop[1:].partition("]")
        if not closing or (rest and not rest.startswith(":")):
            raise _transport_error("Write a bracketed next hop as [host] or [host]:port.")
        port = rest[1:] if rest else None
        bracketed = True
    else:
        if nexthop.count(":") > 1:
            raise _transport_error("Write an IPv6 next hop as [ipv6:2001:db8::25].")
        host, colon, port = nexthop.partition(":")
        port = port if colon else None
        bracketed = False
    if port is not None:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise _transport_error(f"{port or 'Nothing'} is not a port number (1-65535).")
        port = str(int(port))
    if not host:
        raise _transport_error("A relay needs a next hop host, e.g. smtp:[mx.example]:25.")
    looks_numeric = host.lower().startswith("ipv6:") or all(
        part.isdigit() for part in host.split(".")
    )
    if looks_numeric:
        host = _check_address(host, allow_internal)
        bracketed = True  # an unbracketed address would be an MX lookup of a number
    else:
        host = _check_host(host, allow_internal)
    hop = f"[{host}]" if bracketed else host
    return f"{transport}:{hop}:{port}" if port else f"{transport}:{hop}"
