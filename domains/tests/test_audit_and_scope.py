"""Services record an audit event for each write, and keep every actor inside its reach."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import User
from audit.models import AuditEvent
from domains import services
from domains.models import AliasDomain, Domain, Mailbox
from domains.tests.helpers import (
    PASSWORD,
    make_alias,
    make_domain,
    make_mailbox,
    refused,
    row_counts,
)


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()


def test_every_service_family_records_an_audit_event(superadmin):
    domain = services.domain_create(actor=superadmin, name="Example.com")
    event = last_event()
    assert (event.action, event.actor, event.object_type, event.object_id) == (
        "domain.create",
        superadmin,
        "domains.domain",
        str(domain.pk),
    )
    assert event.changes["name"] == {"before": None, "after": "example.com"}
    assert event.changes["verified_at"]["before"] is None and event.changes["verified_at"]["after"]

    services.domain_update(actor=superadmin, domain=domain, max_mailboxes=10)
    assert last_event().action == "domain.update"
    assert last_event().changes == {"max_mailboxes": {"before": 0, "after": 10}}

    alias_domain = services.alias_domain_create(actor=superadmin, name="a.example", target=domain)
    assert last_event().action == "alias_domain.create"

    mailbox = services.mailbox_create(actor=superadmin, address="u@example.com", password=PASSWORD)
    event = last_event()
    assert (event.action, event.object_repr) == ("mailbox.create", "u@example.com")
    assert PASSWORD not in str(event.changes)
    assert event.changes["password"] == {"before": None, "after": "(secret)"}

    services.mailbox_set_password(actor=superadmin, mailbox=mailbox, password="another secret")
    assert last_event().action == "mailbox.password"
    assert "another secret" not in str(last_event().changes)
    assert last_event().changes == {"password": {"before": "(secret)", "after": "(changed)"}}

    services.mailbox_update(actor=superadmin, mailbox=mailbox, name="U")
    assert last_event().action == "mailbox.update"

    alias = services.alias_create(
        actor=superadmin, address="a@example.com", recipients=["u@example.com"]
    )
    assert last_event().action == "alias.create"
    services.alias_update(actor=superadmin, alias=alias, active=False)
    assert last_event().action == "alias.update"

    grant = services.sender_grant_create(actor=superadmin, mailbox=mailbox, address="x@example.com")
    assert last_event().action == "sender_grant.create"
    services.sender_grant_delete(actor=superadmin, grant=grant)
    assert last_event().action == "sender_grant.delete"

    services.alias_delete(actor=superadmin, alias=alias)
    assert last_event().action == "alias.delete"
    services.mailbox_delete(actor=superadmin, mailbox=mailbox)
    assert last_event().action == "mailbox.delete"
    services.alias_domain_delete(actor=superadmin, alias_domain=alias_domain)
    assert last_event().action == "alias_domain.delete"
    services.domain_delete(actor=superadmin, domain=domain, confirm=True)
    assert last_event().action == "domain.delete"
    assert AuditEvent.objects.filter(actor=superadmin).count() == 14


def test_system_actor_is_recorded_without_a_user(db):
    make_domain("example.com")
    assert last_event().actor is None


@pytest.fixture
def two_pools(reseller_user, other_reseller_user):
    mine = services.domain_create(actor=reseller_user, name="mine.example")
    theirs = services.domain_create(actor=other_reseller_user, name="theirs.example")
    make_mailbox("owner@theirs.example")
    return mine, theirs


def test_reseller_domain_lands_in_its_own_pool(reseller_user, other_reseller_user):
    domain = services.domain_create(
        actor=reseller_user, name="x.example", reseller=other_reseller_user.reseller
    )
    assert domain.reseller == reseller_user.reseller


def test_reseller_cannot_touch_another_resellers_domain(reseller_user, two_pools):
    _, theirs = two_pools
    mailbox = Mailbox.objects.get(address="owner@theirs.example")
    # Naming a foreign domain gets the answer a missing domain gets: nothing to learn.
    creates = [
        lambda d: services.mailbox_create(actor=reseller_user, address=f"x@{d}", password=PASSWORD),
        lambda d: services.alias_create(
            actor=reseller_user, address=f"x@{d}", recipients=["a@b.example"]
        ),
        lambda d: services.alias_create(
            actor=reseller_user, address=f"@{d}", recipients=["a@b.example"]
        ),
        lambda d: services.alias_domain_create(
            actor=reseller_user, name="steal2.example", target=d
        ),
        lambda d: services.sender_grant_create(
            actor=reseller_user, mailbox=f"owner@{d}", address="@mine.example"
        ),
    ]
    for create in creates:
        answers = []
        for name in ("theirs.example", "absent.example"):
            before = row_counts()
            with pytest.raises(ValidationError) as info:
                create(name)
            assert row_counts() == before
            answers.append(str(info.value.message_dict).replace(name, "NAME"))
        assert answers[0] == answers[1]
    attempts = [
        lambda: services.domain_update(actor=reseller_user, domain=theirs, description="mine"),
        lambda: services.domain_update(actor=reseller_user, domain=theirs, max_mailboxes=1),
        lambda: services.domain_delete(actor=reseller_user, domain=theirs),
        lambda: services.alias_domain_create(
            actor=reseller_user, name="steal.example", target=theirs
        ),
        lambda: services.mailbox_update(actor=reseller_user, mailbox=mailbox, active=False),
        lambda: services.mailbox_set_password(
            actor=reseller_user, mailbox=mailbox, password="taken over!"
        ),
        lambda: services.mailbox_delete(actor=reseller_user, mailbox=mailbox),
    ]
    for attempt in attempts:
        before = row_counts()
        with pytest.raises(PermissionDenied):
            attempt()
        assert row_counts() == before
    assert Mailbox.objects.get(pk=mailbox.pk).active


def test_reseller_cannot_grant_another_resellers_address(reseller_user, two_pools):
    make_mailbox("me@mine.example")
    mine = Mailbox.objects.get(address="me@mine.example")
    with refused("address"):
        services.sender_grant_create(
            actor=reseller_user, mailbox=mine, address="owner@theirs.example"
        )
    with refused("address"):
        services.sender_grant_create(actor=reseller_user, mailbox=mine, address="ceo@bank.example")
    services.sender_grant_create(actor=reseller_user, mailbox=mine, address="@mine.example")


def test_domain_admin_scope(two_pools):
    mine, theirs = two_pools
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(mine)
    before = row_counts()
    with pytest.raises(PermissionDenied):
        services.domain_create(actor=admin, name="new.example")
    with pytest.raises(PermissionDenied):
        services.alias_domain_create(actor=admin, name="new.example", target=mine)
    with pytest.raises(PermissionDenied):
        services.domain_update(actor=admin, domain=mine, max_mailboxes=1000)
    with pytest.raises(PermissionDenied):
        services.domain_update(actor=admin, domain=mine, active=False)
    with pytest.raises(PermissionDenied):
        services.domain_delete(actor=admin, domain=mine)
    with refused("address", "no_domain"):
        services.mailbox_create(actor=admin, address="x@theirs.example", password=PASSWORD)
    assert row_counts() == before
    assert Domain.objects.get(pk=mine.pk).active
    # inside its domain it works
    services.mailbox_create(actor=admin, address="x@mine.example", password=PASSWORD)
    services.domain_update(actor=admin, domain=mine, description="ours")


def test_inactive_user_manages_nothing(two_pools):
    mine, _ = two_pools
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(mine)
    admin.is_active = False
    admin.save()
    with pytest.raises(PermissionDenied):
        services.mailbox_create(actor=admin, address="x@mine.example", password=PASSWORD)


def test_alias_domain_delete_needs_domain_rights(two_pools, reseller_user):
    _, theirs = two_pools
    alias_domain = services.alias_domain_create(actor=None, name="ad.example", target=theirs)
    with pytest.raises(PermissionDenied):
        services.alias_domain_delete(actor=reseller_user, alias_domain=alias_domain)
    with pytest.raises(PermissionDenied):
        services.alias_domain_update(actor=reseller_user, alias_domain=alias_domain, active=False)
    assert AliasDomain.objects.get(pk=alias_domain.pk).active


def test_make_alias_helper_used_with_scope(reseller_user, two_pools):
    make_mailbox("me@mine.example")
    alias = make_alias("al@mine.example", ["me@mine.example"], actor=reseller_user)
    assert alias.domain.name == "mine.example"
