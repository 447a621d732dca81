"""The trash's rules (issue 11): a deleted name stays reserved for its owner, a restore is refused
cleanly (nothing written) when its domain is gone, a name was taken or the limits no longer hold,
only the owner reaches an item, and items go for good after the retention period. The full
round trip with the lookup tables and the Maildirs is mailhost/tests/test_trash_roundtrip.py."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Reseller, User
from audit.models import AuditEvent
from domains import services
from domains.models import Domain, Mailbox, TrashItem, TrashName
from domains.selectors import trash_list
from domains.tests.helpers import make_alias, make_domain, make_mailbox, refused, row_counts
from mailhost.models import Operation  # the outbox the core's port records into

pytestmark = pytest.mark.django_db


def trash_rows():
    return {**row_counts(), "TrashItem": TrashItem.objects.count()}


@pytest.fixture
def pool_a(reseller):
    return reseller


@pytest.fixture
def owned(reseller_user):
    domain = services.domain_create(
        actor=None, name="owned.example", reseller=reseller_user.reseller
    )
    make_mailbox("box@owned.example", quota_bytes=2**20)
    return domain


def test_a_deleted_domain_name_is_reserved_for_its_owner(reseller_user, other_reseller_user, owned):
    services.domain_delete(actor=reseller_user, domain=owned, confirm=True)
    item = TrashItem.objects.get()
    with refused("name", "trash_reserved") as info:
        services.domain_create(actor=other_reseller_user, name="owned.example")
    assert "reserved" in str(info.value)
    assert "Resell" not in str(info.value)  # nothing about whose it is
    make_domain("x.example", actor=other_reseller_user)
    with refused("name", "trash_reserved"):
        services.alias_domain_create(
            actor=other_reseller_user, name="owned.example", target="x.example"
        )
    # The owner may take the name again; then the old one cannot come back over it.
    services.domain_create(actor=reseller_user, name="owned.example")
    with refused("name", "duplicate"):
        services.trash_restore(actor=reseller_user, item=item)
    assert TrashItem.objects.filter(pk=item.pk).exists()


def test_a_deleted_address_is_reserved_for_those_who_manage_its_domain(
    superadmin, reseller_user, owned
):
    box = Mailbox.objects.get(address="box@owned.example")
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    # A domain admin of the same pool may re-create it; so may the operator.
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(owned)
    alias = services.alias_create(
        actor=admin, address="box@owned.example", recipients=["a@b.example"]
    )
    services.alias_delete(actor=admin, alias=alias)
    # A domain given to another pool meanwhile (the operator moved it): reserved.
    other_pool = Reseller.objects.create(name="Other")
    Domain.objects.filter(pk=owned.pk).update(reseller=other_pool)
    other = User.objects.create_user(
        username="o", password="x", role="reseller", reseller=other_pool
    )
    with refused("address", "trash_reserved"):
        services.mailbox_create(
            actor=other,
            address="box@owned.example",
            password="correct horse battery",
            quota_bytes=1,
        )
    make_mailbox("other@owned.example", actor=other, quota_bytes=1)
    # Once the old Maildir is archived (no pending work), only the trash keeps the address.
    Operation.objects.update(state="done")
    with refused("address", "trash_reserved"):
        services.mailbox_rename(
            actor=other,
            mailbox=Mailbox.objects.get(address="other@owned.example"),
            address="box@owned.example",
        )
    services.alias_create(actor=superadmin, address="box@owned.example", recipients=["a@b.example"])


def test_a_mailbox_comes_back_only_into_its_domain(reseller_user, owned):
    box = Mailbox.objects.get(address="box@owned.example")
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    mailbox_item = TrashItem.objects.get()
    services.domain_delete(actor=reseller_user, domain=owned, confirm=True)
    with refused("domain", "gone") as info:
        services.trash_restore(actor=reseller_user, item=mailbox_item)
    assert "owned.example" in str(info.value)
    services.trash_restore(actor=reseller_user, item=TrashItem.objects.get(kind="domain"))
    restored = services.trash_restore(actor=reseller_user, item=mailbox_item)
    assert (restored.pk, restored.address) == (box.pk, "box@owned.example")
    assert not TrashItem.objects.exists() and not TrashName.objects.exists()


def test_a_restore_over_the_limits_is_refused_with_nothing_written(reseller_user, owned):
    pool = reseller_user.reseller
    services.domain_delete(actor=reseller_user, domain=owned, confirm=True)
    item = TrashItem.objects.get()
    Reseller.objects.filter(pk=pool.pk).update(max_domains=1)
    services.domain_create(actor=reseller_user, name="new.example")
    before = trash_rows()
    with refused("name", "limit") as info:
        services.trash_restore(actor=reseller_user, item=item)
    assert "limit of 1 domains" in str(info.value)
    assert trash_rows() == before
    Reseller.objects.filter(pk=pool.pk).update(max_domains=0, max_mailboxes=1)
    make_mailbox("m@new.example", quota_bytes=1)
    with refused("address", "limit"):
        services.trash_restore(actor=reseller_user, item=item)
    Reseller.objects.filter(pk=pool.pk).update(max_mailboxes=0, max_quota_bytes=2**20)
    with refused("quota_bytes", "limit"):
        services.trash_restore(actor=reseller_user, item=item)
    assert TrashItem.objects.filter(pk=item.pk).exists()
    Reseller.objects.filter(pk=pool.pk).update(max_quota_bytes=0)
    services.trash_restore(actor=reseller_user, item=item)
    assert Mailbox.objects.filter(address="box@owned.example").exists()


def test_a_mailbox_restore_checks_the_domain_limits(reseller_user, owned):
    box = Mailbox.objects.get(address="box@owned.example")
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    item = TrashItem.objects.get()
    services.domain_update(actor=reseller_user, domain=owned, max_mailboxes=1)
    make_mailbox("new@owned.example", quota_bytes=1)
    with refused("address", "limit"):
        services.trash_restore(actor=reseller_user, item=item)


def test_only_the_owner_reaches_an_item(reseller_user, other_reseller_user, superadmin, owned):
    services.domain_delete(actor=reseller_user, domain=owned, confirm=True)
    item = TrashItem.objects.get()
    assert list(trash_list(actor=reseller_user)) == [item]
    assert list(trash_list(actor=other_reseller_user)) == []
    assert list(trash_list(actor=superadmin)) == [item]
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    assert list(trash_list(actor=admin)) == []  # domain items are for those who delete domains
    for action in (services.trash_restore, services.trash_purge):
        with pytest.raises(PermissionDenied):
            action(actor=other_reseller_user, item=item)
        with pytest.raises(PermissionDenied):
            action(actor=admin, item=item)
    # A deactivated reseller reads its trash but changes nothing.
    Reseller.objects.filter(pk=reseller_user.reseller_id).update(active=False)
    reseller_user.reseller.refresh_from_db()
    with pytest.raises(PermissionDenied):
        services.trash_restore(actor=reseller_user, item=item)
    assert TrashItem.objects.filter(pk=item.pk).exists()


def test_a_domain_admin_restores_the_mailboxes_of_its_domains(reseller_user, owned):
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.add(owned)
    box = Mailbox.objects.get(address="box@owned.example")
    services.mailbox_delete(actor=admin, mailbox=box)
    item = TrashItem.objects.get()
    assert list(trash_list(actor=admin)) == [item]
    services.trash_restore(actor=admin, item=item)
    assert Mailbox.objects.filter(pk=box.pk).exists()


def test_purge_now_and_after_the_retention(reseller_user, owned, settings):
    settings.MAILADMIN_TRASH_RETENTION_DAYS = 3
    box = Mailbox.objects.get(address="box@owned.example")
    make_alias("only@owned.example", ["box@owned.example"])
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    first = TrashItem.objects.get()
    assert first.purge_after - first.deleted_at == timedelta(days=3)
    services.trash_purge(actor=reseller_user, item=first)
    assert not TrashItem.objects.exists() and not TrashName.objects.exists()
    event = AuditEvent.objects.filter(action="trash.purge").get()
    assert event.changes == {
        "kind": {"before": "mailbox", "after": None},
        "name": {"before": "box@owned.example", "after": None},
    }

    services.domain_delete(actor=reseller_user, domain=owned, confirm=True)
    item = TrashItem.objects.get()
    assert services.trash_purge_expired() == 0
    assert services.trash_purge_expired(now=timezone.now() + timedelta(days=3, seconds=1)) == 1
    assert not TrashItem.objects.exists()
    # Gone for good: the name is free for anyone.
    services.domain_create(actor=None, name="owned.example")
    assert not AuditEvent.objects.filter(changes__icontains="ARGON2").exists()
    assert item.pk


def test_audit_events_and_listings_never_hold_the_password_hashes(reseller_user, owned):
    box = Mailbox.objects.get(address="box@owned.example")
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    services.trash_restore(actor=reseller_user, item=TrashItem.objects.get())
    for event in AuditEvent.objects.all():
        assert box.password not in str(event.changes)
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    listed = trash_list(actor=reseller_user).get()
    assert "payload" in listed.get_deferred_fields()


def test_an_item_restored_meanwhile_is_a_clean_conflict(reseller_user, owned):
    box = Mailbox.objects.get(address="box@owned.example")
    services.mailbox_delete(actor=reseller_user, mailbox=box)
    item = TrashItem.objects.get()
    services.trash_restore(actor=reseller_user, item=item)
    with refused("item", "gone"):
        services.trash_restore(actor=reseller_user, item=item)
    with refused("item", "gone"):
        services.trash_purge(actor=reseller_user, item=item)


def test_what_a_deletion_took_from_another_tenant_is_not_reserved_nor_overwritten(
    reseller_user, other_reseller_user, owned
):
    """B's aliases may name A's address. A's delete empties one of them and trims another; B
    may re-create the emptied one at once, and A's restore puts back only what still fits."""
    theirs = services.domain_create(
        actor=None, name="theirs.example", reseller=other_reseller_user.reseller
    )
    make_mailbox("x@theirs.example", quota_bytes=1)
    make_alias("fan@theirs.example", ["box@owned.example"])
    trimmed = make_alias("two@theirs.example", ["box@owned.example", "x@theirs.example"])
    services.mailbox_delete(
        actor=reseller_user, mailbox=Mailbox.objects.get(address="box@owned.example")
    )
    item = TrashItem.objects.get()
    assert set(item.names.values_list("name", flat=True)) == {"box@owned.example"}
    again = services.alias_create(
        actor=other_reseller_user, address="fan@theirs.example", recipients=["x@theirs.example"]
    )
    services.trash_restore(actor=reseller_user, item=item)
    assert Mailbox.objects.filter(address="box@owned.example").exists()
    assert [r.address for r in again.recipients.all()] == ["x@theirs.example"]
    assert sorted(r.address for r in trimmed.recipients.all()) == [
        "box@owned.example",
        "x@theirs.example",
    ]
    event = AuditEvent.objects.filter(action="trash.restore").get()
    assert event.changes["left_out"] == {
        "before": None,
        "after": 2,
    }  # the old alias and its recipient
    assert "theirs" not in str(event.changes)
    assert theirs.pk


def _restore_queries(reseller_user, name: str, mailboxes: int) -> int:
    domain = services.domain_create(actor=None, name=name, reseller=reseller_user.reseller)
    for n in range(mailboxes):
        make_mailbox(f"m{n}@{name}", quota_bytes=1)
        make_alias(f"a{n}@{name}", [f"m{n}@{name}", "out@else.example"])
    services.domain_delete(actor=reseller_user, domain=domain, confirm=True)
    item = TrashItem.objects.get(name=name)
    with CaptureQueriesContext(connection) as queries:
        services.trash_restore(actor=reseller_user, item=item)
    assert Mailbox.objects.filter(domain__name=name).count() == mailboxes
    # Each Maildir's move back is its own operation on each mail host (tracked and retried one
    # by one); those statements are left out of the count.
    return sum(1 for q in queries if "mailhost_" not in q["sql"] and "maildir_busy" not in q["sql"])


def test_a_restore_costs_the_same_queries_for_a_big_domain(reseller_user):
    """The checks and the inserts go by batch, not by row: a domain of 3 and one of 60 mailboxes
    (each with an alias and its recipients) come back in as many statements, besides one
    Maildir operation per mailbox."""
    small = _restore_queries(reseller_user, "small.example", 3)
    big = _restore_queries(reseller_user, "big.example", 60)
    assert big == small


def test_what_comes_back_into_existing_aliases_keeps_to_the_limits(reseller_user, owned, settings):
    """A mailbox's deletion emptied one alias and trimmed another. Meanwhile the domain reached
    its alias limit and the trimmed alias its recipient cap: the restore brings the mailbox
    back, but neither the emptied alias nor the extra recipient (left out, counted)."""
    settings.MAILADMIN_MAX_ALIAS_RECIPIENTS = 2
    Domain.objects.filter(pk=owned.pk).update(max_aliases=2)
    make_alias("only@owned.example", ["box@owned.example"])
    fan = make_alias("fan@owned.example", ["box@owned.example", "a@else.example"])
    services.mailbox_delete(
        actor=reseller_user, mailbox=Mailbox.objects.get(address="box@owned.example")
    )
    item = TrashItem.objects.get()
    services.alias_create(
        actor=reseller_user, address="new@owned.example", recipients=["b@else.example"]
    )
    services.alias_update(
        actor=reseller_user, alias=fan, recipients=["a@else.example", "c@else.example"]
    )
    services.trash_restore(actor=reseller_user, item=item)
    assert Mailbox.objects.filter(address="box@owned.example").exists()
    assert sorted(owned.aliases.values_list("address", flat=True)) == [
        "fan@owned.example",
        "new@owned.example",
    ]
    assert sorted(fan.recipients.values_list("address", flat=True)) == [
        "a@else.example",
        "c@else.example",
    ]
    event = AuditEvent.objects.filter(action="trash.restore").get()
    # the alias, its recipient row and the recipient row of fan
    assert event.changes["left_out"]["after"] == 3


def test_an_emptied_alias_comes_back_when_it_fits(reseller_user, owned):
    Domain.objects.filter(pk=owned.pk).update(max_aliases=2)
    make_alias("only@owned.example", ["box@owned.example"])
    services.mailbox_delete(
        actor=reseller_user, mailbox=Mailbox.objects.get(address="box@owned.example")
    )
    services.trash_restore(actor=reseller_user, item=TrashItem.objects.get())
    only = owned.aliases.get(address="only@owned.example")
    assert list(only.recipients.values_list("address", flat=True)) == ["box@owned.example"]
