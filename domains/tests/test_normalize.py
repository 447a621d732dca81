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


@pytest.mark.parametrize(
    "name",
    [
        "bеta.example",  # Cyrillic е among Latin letters
        "xn--80ak6aa92e.com",  # Cyrillic "аррӏе", every letter an ASCII look-alike
        "аррӏе.com",
        "ɡoogle.com",  # Latin script g (U+0261): reads as google
        "pаypal.example",
        "αβγdef.example",  # Greek and Latin in one label
    ],
)
def test_look_alike_domains_are_refused(name):
    with pytest.raises(ValidationError) as info:
        normalize_domain(name)
    assert info.value.code == "confusable"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("münchen.example", "xn--mnchen-3ya.example"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("ελληνικά.example", "xn--hxargifdar.example"),
        ("例え.jp", "xn--r8jz45g.jp"),  # Han with Hiragana: one Japanese label
        ("한국어.example", "xn--3e0bk47br7k.example"),
    ],
)
def test_single_script_idns_are_accepted(name, stored):
    assert normalize_domain(name) == stored
    assert display_domain(stored) == name


def test_a_stored_look_alike_is_shown_as_its_a_label():
    assert display_domain("xn--80ak6aa92e.com") == "xn--80ak6aa92e.com"


@pytest.mark.parametrize(
    "address",
    ["boss@a.example@b.example", '"boss@a.example"@b.example', "a@@b.example", "@a@b.example"],
)
def test_an_address_with_two_at_signs_is_refused(address):
    with pytest.raises(ValidationError, match="exactly one @"):
        normalize_address(address, allow_catchall=True)


def test_local_part_cannot_start_with_a_hyphen():
    with pytest.raises(ValidationError, match="hyphen"):
        normalize_local_part("-oQ")
    assert normalize_local_part("a-b") == "a-b"
