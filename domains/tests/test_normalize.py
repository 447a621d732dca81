"""Normalisation: IDN to A-labels, case folding, trailing dots; the stored form is what Postfix
looks up."""

import pytest
from django.core.exceptions import ValidationError

from domains.models import Domain, Mailbox
from domains.normalize import (
    display_domain,
    normalize_address,
    normalize_domain,
    normalize_local_part,
)
from domains.tests.helpers import make_alias, make_domain, make_mailbox


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("münchen.example", "xn--mnchen-3ya.example"),
        ("MÜNCHEN.Example", "xn--mnchen-3ya.example"),
        ("xn--mnchen-3ya.example", "xn--mnchen-3ya.example"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  mail.Example.org  ", "mail.example.org"),
        ("a-b.example", "a-b.example"),
    ],
)
def test_normalize_domain(given, stored):
    assert normalize_domain(given) == stored


def test_display_domain_is_unicode():
    assert display_domain("xn--mnchen-3ya.example") == "münchen.example"
    assert display_domain("example.com") == "example.com"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("John.Doe+Tag@münchen.example.", "john.doe+tag@xn--mnchen-3ya.example"),
        ("o'Brien@example.com", "o'brien@example.com"),
    ],
)
def test_normalize_address(given, stored):
    assert normalize_address(given) == stored


def test_catchall_address_only_when_allowed():
    assert normalize_address("@Example.com", allow_catchall=True) == "@example.com"
    with pytest.raises(ValidationError):
        normalize_address("@example.com")


def test_local_part_is_lowercased():
    assert normalize_local_part("  MiXeD ") == "mixed"


def test_idn_domain_stored_as_a_label_and_shown_in_unicode(db):
    domain = make_domain("München.Example.")
    domain.refresh_from_db()
    assert domain.name == "xn--mnchen-3ya.example"
    assert domain.display_name == "münchen.example"
    assert str(domain) == "münchen.example"
    assert Domain.objects.filter(name="xn--mnchen-3ya.example").exists()


def test_mailbox_address_is_folded_and_idn_encoded(db):
    make_domain("münchen.example")
    mailbox = make_mailbox("Hans.Meier@MÜNCHEN.example")
    mailbox.refresh_from_db()
    assert mailbox.address == "hans.meier@xn--mnchen-3ya.example"
    assert mailbox.local_part == "hans.meier"
    assert mailbox.maildir == "xn--mnchen-3ya.example/hans.meier/"


def test_alias_address_and_recipients_are_folded(domain):
    make_mailbox("bob@example.com")
    alias = make_alias("Sales@EXAMPLE.com.", ["BOB@Example.Com", "Ext@Other.ORG"])
    alias.refresh_from_db()
    assert alias.address == "sales@example.com"
    assert sorted(alias.recipients.values_list("address", flat=True)) == [
        "bob@example.com",
        "ext@other.org",
    ]


def test_unicode_domain_lookups_find_the_stored_row(db):
    make_domain("bücher.example")
    make_mailbox("anna@bücher.example")
    assert Mailbox.objects.get().address == "anna@xn--bcher-kva.example"
