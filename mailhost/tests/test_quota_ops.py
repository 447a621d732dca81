"""Quota through mail-host operations: `doveadm quota recalc` on demand, and the 80 %/95 %
warnings, delivered into the mailbox once per crossing (real worker, Redis, mailstack)."""

from __future__ import annotations

import pytest

from domains.models import QuotaUsage
from mailhost.models import MailHost, Operation, QuotaWarning
from mailhost.stack import wait_for
from mailhost.tests import helpers as h
from mailhost.tests.test_operations import REMOTE
from mailhost.tests.test_operations import worker as worker  # noqa: F401 - the module's worker
from mailhost.tests.workers import broker, wait_operations

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]


def usage(box, **match):
    return wait_for(
        lambda: QuotaUsage.objects.filter(mailbox=box, **match).first(),
        timeout=30,
        what=f"quota usage {match}",
    )


def test_quota_recalc_counts_what_is_in_the_maildir(worker, mail_stack):  # noqa: F811
    from mailhost import services

    MailHost.objects.get_or_create(name="mx1", defaults={"role": "mail"})
    box = h.make_mailbox(f"count@{h.make_domain().name}", quota_bytes=10**6)
    h.send(mail_stack.ports["smtp"], REMOTE, [box.address], h.message(REMOTE, [box.address]))
    (stored,) = h.wait_messages(mail_stack, box.address)
    usage(box, messages=1)
    # A message put in place behind Dovecot's back (a restore, a migration): not counted yet.
    sizes = stored.name[stored.name.index(",") :]  # ,S=...,W=... as Dovecot named it
    (stored.parent / f"1700000000.M1P1.restored{sizes}").write_bytes(stored.read_bytes())
    with broker(worker.broker_url):
        assert len(services.quota_recalc_request(actor=None, address=box.address)) == 1
    (op,) = Operation.objects.filter(kind="quota_recalc")
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    message_row = [line for line in op.output.splitlines() if "\tMESSAGE\t" in line]
    assert message_row and message_row[0].split("\t")[2] == "2", op.output


def test_warnings_at_80_and_95_percent_once_per_crossing(worker, mail_stack):  # noqa: F811
    from mailhost import services

    MailHost.objects.get_or_create(name="mx1", defaults={"role": "mail"})
    box = h.make_mailbox(f"full@{h.make_domain().name}", quota_bytes=10000)
    h.send(
        mail_stack.ports["smtp"], REMOTE, [box.address], h.message(REMOTE, [box.address], size=8200)
    )
    h.wait_messages(mail_stack, box.address)
    usage(box, messages=1)

    def check():
        with broker(worker.broker_url):
            sent = services.quota_warnings_check()
        wait_operations(
            list(Operation.objects.filter(kind="quota_warn").values_list("pk", flat=True))
        )
        return sent

    assert check() == 1
    assert QuotaWarning.objects.get(mailbox=box).level == 80
    (warning,) = [
        m for m in h.wait_messages(mail_stack, box.address, 2) if b"80%" in m.read_bytes()
    ]
    assert b"Subject: Your mailbox is 80% full" in warning.read_bytes()
    assert check() == 0  # same level: no second message
    assert len(mail_stack.messages(box.address)) == 2

    QuotaUsage.objects.filter(mailbox=box).update(bytes=9600)  # crosses 95 %
    assert check() == 1
    assert QuotaWarning.objects.get(mailbox=box).level == 95
    QuotaUsage.objects.filter(mailbox=box).update(bytes=100)  # emptied: the mark comes down
    assert check() == 0
    assert QuotaWarning.objects.get(mailbox=box).level == 0
