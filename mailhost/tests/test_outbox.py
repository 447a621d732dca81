"""The outbox without a worker: what the core's changes record, in their own transaction, and
the rules around it (allowlist, sweep, retry)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from domains import services as core
from domains.models import Mailbox
from domains.tests.helpers import make_domain, make_mailbox
from mailhost import commands, dispatch, services
from mailhost.models import ArchivedMaildir, MailHost, Operation

pytestmark = pytest.mark.django_db


def test_rename_records_the_move_and_marks_the_mailbox_busy(superadmin):
    make_domain("ex.example")
    box = make_mailbox("old@ex.example")
    with pytest.raises(ValidationError) as err:
        core.mailbox_rename(actor=superadmin, mailbox=box, address="x@elsewhere.example")
    assert "address" in err.value.message_dict
    assert not Operation.objects.exists()  # refused: nothing half-written
    make_mailbox("taken@ex.example")
    with pytest.raises(ValidationError):
        core.mailbox_rename(actor=superadmin, mailbox=box, address="taken@ex.example")

    renamed = core.mailbox_rename(actor=superadmin, mailbox=box, address="New@Ex.example")
    assert (renamed.address, renamed.maildir, renamed.maildir_busy) == (
        "new@ex.example",
        "ex.example/new/",
        True,
    )
    (op,) = Operation.objects.all()
    assert op.kind == "maildir_move" and op.state == "pending" and op.host is None
    assert op.args == {
        "from": "ex.example/old/",
        "to": "ex.example/new/",
        "old_address": "old@ex.example",
    }
    assert op.mailbox_address == "new@ex.example"


def test_an_operation_goes_to_every_host_that_stores_mail(superadmin):
    MailHost.objects.create(name="store1", role="store")
    MailHost.objects.create(name="mail1", role="mail")
    MailHost.objects.create(name="mx1", role="mx")
    make_domain("ex.example")
    box = make_mailbox("gone@ex.example")
    core.mailbox_delete(actor=superadmin, mailbox=box)
    ops = Operation.objects.filter(kind="maildir_archive").select_related("host")
    assert sorted(op.host.name for op in ops) == ["mail1", "store1"]
    assert ArchivedMaildir.objects.filter(address="gone@ex.example").count() == 2
    # Re-created before the archive ran: it waits (busy) so it cannot inherit the old mail.
    assert make_mailbox("gone@ex.example").maildir_busy is True


def test_dispatch_happens_only_after_commit(superadmin, django_capture_on_commit_callbacks):
    make_domain("ex.example")
    box = make_mailbox("a@ex.example")
    with django_capture_on_commit_callbacks() as callbacks:
        core.mailbox_rename(actor=superadmin, mailbox=box, address="b@ex.example")
    assert len(callbacks) == 1


def test_the_sweep_resends_what_was_never_sent(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "enqueue", lambda pk: sent.append(pk) or True)
    old = timezone.now() - timedelta(minutes=5)
    never = Operation.objects.create(kind="reload")
    lost = Operation.objects.create(kind="reload", dispatched_at=old - timedelta(hours=1))
    fresh_sent = Operation.objects.create(kind="reload", dispatched_at=timezone.now())
    done = Operation.objects.create(kind="reload", state="done")
    Operation.objects.filter(pk__in=[never.pk, lost.pk, fresh_sent.pk, done.pk]).update(created=old)
    young = Operation.objects.create(kind="reload")  # its own on_commit send is on the way
    assert dispatch.sweep() == 2
    assert sorted(sent) == sorted([never.pk, lost.pk])
    assert young.pk not in sent


def test_a_duplicate_message_does_not_run_an_operation_twice():
    running = Operation.objects.create(kind="reload", state="running", started_at=timezone.now())
    assert services.operation_run(operation_id=running.pk) == "running elsewhere"
    assert Operation.objects.get(pk=running.pk).attempts == 0


def test_a_finished_operation_is_not_run_again_nor_retried():
    op = Operation.objects.create(kind="reload", state="done")
    assert services.operation_run(operation_id=op.pk) == "skipped"
    with pytest.raises(ValidationError):
        services.operation_retry(actor=None, operation=op)
    assert Operation.objects.get(pk=op.pk).attempts == 0


def test_only_allowlisted_commands_with_checked_arguments():
    with pytest.raises(commands.CommandRefused):
        commands.run("rm", "-rf", "/")
    with pytest.raises(commands.CommandRefused):
        commands.run("postfix_check", "relative/dir")
    for bad in ("a@b; rm -rf /", "-A", "-A@x.example", "x@y z", "$(id)@x.example"):
        with pytest.raises(commands.CommandRefused):
            commands.ALLOWED["doveadm_kick"]("/etc/dovecot/dovecot.conf", bad)


def test_maildir_paths_stay_under_the_vmail_root(settings, tmp_path):
    settings.MAIL_VMAIL_ROOT = str(tmp_path)
    for rel in ("../etc", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(services.OperationFailed):
            services._under_vmail(rel)
    assert services._under_vmail("ex.example/a/") == tmp_path / "ex.example" / "a"


def test_quota_levels():
    assert [services.quota_level(u, 1000) for u in (0, 799, 800, 949, 950, 2000)] == [
        0,
        0,
        80,
        80,
        95,
        95,
    ]
    assert services.quota_level(10**9, 0) == 0  # unlimited


def test_restore_needs_the_mailbox_back_first(superadmin):
    archive = ArchivedMaildir.objects.create(
        address="gone@ex.example",
        path=".archive/x/",
        archived_at=timezone.now(),
        purge_after=timezone.now() + timedelta(days=1),
    )
    with pytest.raises(ValidationError) as err:
        services.archive_restore(actor=superadmin, archive=archive)
    assert "address" in err.value.message_dict
    make_domain("ex.example")
    box = make_mailbox("gone@ex.example")
    op = services.archive_restore(actor=superadmin, archive=archive)
    assert op.kind == "maildir_restore" and op.args["to"] == "ex.example/gone/"
    assert Mailbox.objects.get(pk=box.pk).maildir_busy is True
