"""Two rules the services hold for every face: a domain with data in it is deleted only when the
caller confirms (and is told what would go), and a local domain with alias domains stays local
(alias_domain_create's rule seen from the other side)."""

import pytest

from audit.models import AuditEvent
from domains import services
from domains.models import AliasDomain, Domain, Mailbox
from domains.selectors import domain_contents
from domains.tests.helpers import make_alias, make_domain, make_mailbox, refused, row_counts

pytestmark = pytest.mark.django_db


def test_a_non_empty_domain_goes_only_when_confirmed(superadmin):
    domain = make_domain("full.example")
    make_mailbox("a@full.example")
    make_mailbox("b@full.example")
    make_alias("team@full.example", ["a@full.example"])
    services.alias_domain_create(actor=None, name="full-alias.example", target=domain)
    before = row_counts()
    with pytest.raises(services.DomainNotEmpty) as info:
        services.domain_delete(actor=superadmin, domain=domain)
    assert info.value.contents == {
        "mailboxes": 2,
        "aliases": 1,
        "alias_domains": 1,
        "sender_grants": 0,
        "relay_recipients": 0,
    }
    assert row_counts() == before
    with pytest.raises(services.DomainNotEmpty):
        services.domain_delete(actor=superadmin, domain=domain, confirm="yes")  # True only
    gone = services.domain_delete(actor=superadmin, domain=domain, confirm=True)
    assert gone == info.value.contents
    assert not Domain.objects.filter(name="full.example").exists()
    assert not Mailbox.objects.filter(address__endswith="@full.example").exists()
    event = AuditEvent.objects.filter(action="domain.delete").latest("id")
    assert event.changes["name"] == {"before": "full.example", "after": None}
    assert {k: event.changes[k] for k in ("mailboxes", "aliases", "alias_domains")} == {
        "mailboxes": {"before": 2, "after": None},
        "aliases": {"before": 1, "after": None},
        "alias_domains": {"before": 1, "after": None},
    }


def test_an_empty_domain_goes_without_confirmation(superadmin):
    domain = make_domain("empty.example")
    assert not any(domain_contents(domain).values())
    services.domain_delete(actor=superadmin, domain=domain)
    assert not Domain.objects.filter(pk=domain.pk).exists()


def test_a_local_domain_with_alias_domains_cannot_become_a_relay(superadmin):
    domain = make_domain("local.example")
    services.alias_domain_create(actor=None, name="other-name.example", target=domain)
    with refused("kind"):
        services.domain_update(
            actor=superadmin, domain=domain, kind="relay", transport="smtp:[mx.example.net]:25"
        )
    with refused("kind"):
        services.domain_update(actor=superadmin, domain=domain, kind="backup")
    assert Domain.objects.get(pk=domain.pk).kind == "local"
    AliasDomain.objects.filter(target=domain).delete()
    services.domain_update(
        actor=superadmin, domain=domain, kind="relay", transport="smtp:[mx.example.net]:25"
    )
    assert Domain.objects.get(pk=domain.pk).kind == "relay"
