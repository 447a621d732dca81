"""Proof that whoever adds a domain controls its DNS.

A domain (or alias domain) added by a reseller or domain admin is pending until a TXT record

    _mailadmin-verify.<domain>.  TXT  "mailadmin-verify=<token>"

is published; `check` asks DNS for it. The resolver is the machine's (/etc/resolv.conf) unless
MAILADMIN_DNS_NAMESERVERS names servers ("192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53").
"""

import secrets
from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings

RECORD_LABEL = "_mailadmin-verify"
VALUE_PREFIX = "mailadmin-verify="


def new_token() -> str:
    return secrets.token_hex(16)


def record_name(domain_name: str) -> str:
    return f"{RECORD_LABEL}.{domain_name}"


def record_value(token: str) -> str:
    return f"{VALUE_PREFIX}{token}"


@dataclass(frozen=True)
class CheckResult:
    verified: bool
    message: str


def _nameserver(entry: str) -> dns.nameserver.Nameserver:
    entry = entry.strip()
    port = 53
    if entry.startswith("["):
        address, _, rest = entry[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif entry.count(":") == 1:
        address, _, port_text = entry.partition(":")
        port = int(port_text)
    else:
        address = entry
    return dns.nameserver.Do53Nameserver(address, port)


def _resolver() -> dns.resolver.Resolver:
    configured = settings.MAILADMIN_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not configured)
    if configured:
        resolver.nameservers = [_nameserver(entry) for entry in configured]
    resolver.lifetime = settings.MAILADMIN_DNS_TIMEOUT
    resolver.timeout = settings.MAILADMIN_DNS_TIMEOUT
    resolver.cache = None  # a record just published must be seen at the next check
    return resolver


def check(domain_name: str, token: str) -> CheckResult:
    """Whether DNS holds the verification record for `domain_name` with `token`."""
    name = record_name(domain_name)
    expected = record_value(token)
    if not token:
        return CheckResult(False, "This domain has no verification token.")
    try:
        answer = _resolver().resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return CheckResult(False, f'No TXT record {name} yet: publish "{expected}" there.')
    except (
        dns.exception.Timeout,
        dns.resolver.NoNameservers,
        dns.resolver.NoResolverConfiguration,
    ):
        return CheckResult(False, f"DNS did not answer for {name}; try again later.")
    except dns.exception.DNSException as exc:
        return CheckResult(False, f"DNS lookup of {name} failed: {exc}.")
    values = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer.rrset or []]
    if any(value.strip() == expected for value in values):
        return CheckResult(True, f"Found {expected} at {name}.")
    if not values:
        return CheckResult(False, f'No TXT record {name} yet: publish "{expected}" there.')
    return CheckResult(False, f'{name} has TXT records, but none is "{expected}".')
