"""Shared helpers for the mail data tests."""

import contextlib

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Reseller, User
from audit.models import AuditEvent
from domains import services
from domains.models import (
    Alias,
    AliasDomain,
    AliasRecipient,
    Domain,
    Mailbox,
    MailboxForward,
    SenderGrant,
)

PASSWORD = "correct horse battery"

COUNTED = (
    Domain,
    AliasDomain,
    Mailbox,
    MailboxForward,
    Alias,
    AliasRecipient,
    SenderGrant,
    Reseller,
    User,
    AuditEvent,
)


def row_counts() -> dict[str, int]:
    """What a refused write must leave untouched (the audit log included)."""
    return {model.__name__: model.objects.count() for model in COUNTED}


@contextlib.contextmanager
def refused(field: str, code: str | None = None):
    """Expect a ValidationError naming `field` (and `code` when given), with nothing written."""
    before = row_counts()
    with pytest.raises(ValidationError) as info:
        yield info
    errors = info.value.error_dict if hasattr(info.value, "error_dict") else {}
    assert field in errors, f"error names {sorted(errors)} instead of {field!r}: {info.value}"
    if code is not None:
        codes = [e.code for e in errors[field]]
        assert code in codes, f"codes {codes} do not include {code!r}"
    assert row_counts() == before


def make_mailbox(address: str, **kwargs) -> Mailbox:
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("actor", None)
    return services.mailbox_create(address=address, **kwargs)


def make_alias(address: str, recipients: list[str], **kwargs) -> Alias:
    kwargs.setdefault("actor", None)
    return services.alias_create(address=address, recipients=recipients, **kwargs)


def make_domain(name: str, **kwargs) -> Domain:
    kwargs.setdefault("actor", None)
    return services.domain_create(name=name, **kwargs)
