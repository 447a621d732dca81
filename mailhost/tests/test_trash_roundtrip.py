"""The trash end to end without a mail server: a domain (or a mailbox) with everything that can
hang off it is deleted, answers nothing in any lookup table, and comes back from the trash row for
row (same ids, same values) with its Maildir moved to the archive and back on disk by the
operations a worker would run. Issue 11's "delete → restore round trip loses nothing"."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import serializers
from django.db import connection
from django.utils import timezone

from accounts.models import Reseller, User
from domains import services as core
from domains.models import (
    Alias,
    AliasDomain,
    AliasRecipient,
    AppPassword,
    AppPasswordUse,
    Domain,
    Mailbox,
    MailboxForward,
    QuotaUsage,
    RelayRecipient,
    SenderGrant,
    TrashItem,
)
from domains.tests.helpers import PASSWORD, make_alias, make_domain, make_mailbox
from mailhost import contract, services
from mailhost.models import ArchivedMaildir, Operation, QuotaWarning
from mailhost.tests import lookup_queries as q

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

DUMPED = (
    Reseller,
    Domain,
    AliasDomain,
    Mailbox,
    MailboxForward,
    Alias,
    AliasRecipient,
    SenderGrant,
    RelayRecipient,
    QuotaUsage,
    AppPassword,
    AppPasswordUse,
    QuotaWarning,
    User.managed_domains.through,
)
# Written by the mail side on restore, not kept: Dovecot's usage row is stamped by its trigger,
# and finishing the Maildir restore marks the mailbox not busy (a save, so `modified` moves).
MOVING = {"domains.quotausage": {"updated_at"}, "domains.mailbox": {"modified"}}


def dump() -> list[dict]:
    rows = []
    for model in DUMPED:
        for row in json.loads(serializers.serialize("json", model.objects.order_by("pk"))):
            for field in MOVING.get(row["model"], ()):
                row["fields"].pop(field, None)
            rows.append(row)
    return rows


def lookup_tables() -> dict[str, list[tuple]]:
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        tables = {}
        for table in contract.LOOKUP_TABLES:
            cur.execute(f"SELECT * FROM {table}")  # noqa: S608 - names from the contract
            tables[table] = sorted(cur.fetchall(), key=repr)
        return tables


def mentions(tables: dict[str, list[tuple]], *names: str) -> list[tuple]:
    """Lookup rows whose key (first column) is an address or a domain under one of `names`."""
    found = []
    for table, rows in tables.items():
        for row in rows:
            key = str(row[0])
            if any(key == n or key.endswith("@" + n) or key.endswith("." + n) for n in names):
                found.append((table, row))
    return found


@pytest.fixture
def vmail(settings, tmp_path):
    settings.MAIL_VMAIL_ROOT = str(tmp_path)
    settings.MAILHOST_NAME = ""
    settings.MAILHOST_DOVECOT_CONF = ""
    return tmp_path


def run_pending() -> list[str]:
    """Run what a worker would (no broker in tests: on_commit never fires)."""
    results = []
    for op in Operation.objects.filter(state="pending").order_by("pk"):
        results.append(services.operation_run(operation_id=op.pk))
    return results


def maildir_with_mail(vmail: Path, mailbox: Mailbox, text: str) -> Path:
    new = vmail / mailbox.maildir / "new"
    new.mkdir(parents=True)
    (new / "1.msg").write_text(text)
    return new / "1.msg"


def build_world(superadmin):
    pool = Reseller.objects.create(name="Pool", max_domains=10, max_mailboxes=20)
    reseller = User.objects.create_user(username="r", password="x", role="reseller", reseller=pool)
    alpha = make_domain("alpha.example", reseller=pool, max_mailboxes=5, total_quota=10 * 2**30)
    beta = make_domain("beta.example", reseller=pool)
    make_domain("other.example")
    a = make_mailbox("a@alpha.example", quota_bytes=2**30)
    b = make_mailbox("b@alpha.example", quota_bytes=2**29, name="Bee", allow_pop3=False)
    c = make_mailbox("c@beta.example")
    make_mailbox("z@other.example")
    core.mailbox_update(
        actor=None, mailbox=b, forward_to=["a@alpha.example", "ext@far.example"], keep_copy=False
    )
    make_alias("team@alpha.example", ["a@alpha.example", "b@alpha.example"])
    make_alias("@alpha.example", ["a@alpha.example"])
    make_alias("fw@beta.example", ["a@alpha.example", "c@beta.example"])
    make_alias("only-a@beta.example", ["a@alpha.example"])
    core.alias_domain_create(actor=None, name="alpha-alias.example", target=alpha)
    core.sender_grant_create(actor=None, mailbox=a, address="@beta.example")
    core.sender_grant_create(actor=None, mailbox=c, address="boss@alpha.example")
    app_password, _secret = core.app_password_create(
        actor=None, mailbox=a, name="phone", protocol="imap"
    )
    AppPasswordUse.objects.create(app_password=app_password, last_used_at=timezone.now())
    QuotaUsage.objects.create(mailbox=a, username=a.address, bytes=12345, messages=3)
    QuotaWarning.objects.create(mailbox=a, level=80)
    admin = User.objects.create_user(username="da", password="x", role="domainadmin")
    admin.managed_domains.set([alpha, beta])
    return {"reseller": reseller, "alpha": alpha, "a": a, "b": b, "c": c}


def test_a_domain_goes_to_the_trash_and_comes_back_with_everything(superadmin, vmail):
    world = build_world(superadmin)
    mail_a = maildir_with_mail(vmail, world["a"], "hello a")
    maildir_with_mail(vmail, world["b"], "hello b")
    before_rows, before_lookups = dump(), lookup_tables()
    assert mentions(before_lookups, "alpha.example", "alpha-alias.example")

    core.domain_delete(actor=world["reseller"], domain=world["alpha"], confirm=True)
    # Nothing of it answers any more, in any lookup table, and its mail is archived.
    tables = lookup_tables()
    assert mentions(tables, "alpha.example", "alpha-alias.example") == []
    for key in ("a@alpha.example", "alpha.example", "a@alpha-alias.example"):
        for name in q.POSTFIX_MAPS:
            if name in q.QUERIES and "%d" not in q.QUERIES[name]:
                assert q.postfix(name, key) == [], (name, key)
    assert q.run("user_query", u="a@alpha.example") == []
    assert not Domain.objects.filter(name="alpha.example").exists()
    # Other domains keep what is theirs (an alias of beta still names a@alpha, now external).
    assert sorted(Alias.objects.values_list("address", flat=True)) == [
        "fw@beta.example",
        "only-a@beta.example",
    ]
    assert run_pending() == ["done", "done"]
    assert not mail_a.exists()
    assert ArchivedMaildir.objects.filter(archived_at__isnull=False).count() == 2
    (item,) = TrashItem.objects.all()
    assert (item.kind, item.name, item.reseller.name) == ("domain", "alpha.example", "Pool")

    restored = core.trash_restore(actor=world["reseller"], item=item)
    assert restored.pk == world["alpha"].pk
    assert not TrashItem.objects.exists()
    assert set(run_pending()) == {"done"}
    assert mail_a.read_text() == "hello a"
    assert dump() == before_rows
    assert lookup_tables() == before_lookups


def test_a_mailbox_goes_to_the_trash_and_comes_back_with_what_pointed_at_it(superadmin, vmail):
    world = build_world(superadmin)
    mail = maildir_with_mail(vmail, world["a"], "hello a")
    before_rows, before_lookups = dump(), lookup_tables()

    core.mailbox_delete(actor=world["reseller"], mailbox=world["a"])
    tables = lookup_tables()
    # No key answers for it (b@ still forwards to it, as before: that is b's own setting).
    assert [(t, r) for t, rows in tables.items() for r in rows if r[0] == "a@alpha.example"] == []
    assert q.run("password_query", u="a@alpha.example", s="imap") == []
    # The aliases that named only a@ went with it; the others lost that recipient.
    assert not Alias.objects.filter(address__in=["only-a@beta.example", "@alpha.example"]).exists()
    assert not AliasRecipient.objects.filter(address="a@alpha.example").exists()
    (item,) = TrashItem.objects.all()
    assert item.contents == {
        "sender_grants": 1,
        "app_passwords": 1,
        "aliases": 2,
        "alias_recipients": 4,
    }
    assert set(item.names.values_list("name", flat=True)) == {
        "a@alpha.example",
        "@alpha.example",
        "only-a@beta.example",
    }
    assert run_pending() == ["done"]
    assert not mail.exists()

    core.trash_restore(actor=world["reseller"], item=item)
    assert Mailbox.objects.get(address="a@alpha.example").maildir_busy  # until the move is done
    assert run_pending() == ["done"]
    assert mail.read_text() == "hello a"
    assert dump() == before_rows
    assert lookup_tables() == before_lookups


def test_restoring_before_the_archive_ran_waits_for_it(superadmin, vmail):
    world = build_world(superadmin)
    mail = maildir_with_mail(vmail, world["a"], "hello a")
    core.mailbox_delete(actor=None, mailbox=world["a"])
    core.trash_restore(actor=None, item=TrashItem.objects.get())
    archive_op, restore_op = Operation.objects.order_by("pk")
    assert services.operation_run(operation_id=archive_op.pk) == "done"
    assert services.operation_run(operation_id=restore_op.pk) == "done"
    assert mail.read_text() == "hello a"
    assert not Mailbox.objects.get(address="a@alpha.example").maildir_busy


def test_purge_after_retention_purges_the_archived_maildir(superadmin, vmail, settings):
    from mailhost.tasks import trash_purge_expired

    settings.MAILADMIN_TRASH_RETENTION_DAYS = 7
    settings.MAILADMIN_MAILDIR_RETENTION_DAYS = 1
    world = build_world(superadmin)
    maildir_with_mail(vmail, world["a"], "hello a")
    core.mailbox_delete(actor=None, mailbox=world["a"])
    run_pending()
    archive = ArchivedMaildir.objects.get()
    # Kept as long as the trash item, whichever retention is longer.
    assert archive.purge_after >= TrashItem.objects.get().purge_after
    assert (vmail / archive.path).exists()
    assert trash_purge_expired.apply().get() == 0  # eagerly, as beat would: not due yet
    TrashItem.objects.update(purge_after=timezone.now() - timedelta(seconds=1))
    assert trash_purge_expired.apply().get() == 1
    assert not TrashItem.objects.exists()
    (purge,) = Operation.objects.filter(kind="maildir_purge")
    assert purge.args == {"archive_id": archive.pk}
    assert run_pending() == ["done"]
    assert not (vmail / archive.path).exists()
    archive.refresh_from_db()
    assert archive.purged_at is not None
    # The address is free again for anyone who manages its domain.
    make_mailbox("a@alpha.example", password=PASSWORD, quota_bytes=2**20)
