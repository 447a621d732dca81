"""Mail-host operations end to end: a real Redis broker, a real Celery worker process acting as
the mail host, the real Postfix and Dovecot of `mailstack`."""

from __future__ import annotations

import pytest
import redis

from mailhost.models import MailHost, Operation
from mailhost.stack import wait_for
from mailhost.tests import helpers as h
from mailhost.tests.workers import REDIS_URL, Worker, broker, require_redis, wait_operations

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker(mail_stack, tmp_path_factory):
    url = require_redis(REDIS_URL)
    redis.Redis.from_url(url).flushdb()  # this run's own Redis database: no stale messages
    w = Worker(name="mx1", broker_url=url, log_dir=tmp_path_factory.mktemp("w"), stack=mail_stack)
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()


def host(name="mx1") -> MailHost:
    return MailHost.objects.get_or_create(name=name)[0]


def reloads(path) -> int:
    return len(h.log_lines(path, "reload"))


def services():
    from mailhost import services

    return services


def test_a_reload_reaches_the_host_and_postfix_rereads_its_config(worker, mail_stack):
    before = reloads(mail_stack.postfix_log)
    with broker(worker.broker_url):
        (op,) = services().reload_request(actor=None, host=host())
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", (op.last_error, worker.logtext())
    assert op.attempts == 1
    wait_for(
        lambda: reloads(mail_stack.postfix_log) > before, timeout=20, what="postfix reload logged"
    )


def test_a_broken_config_is_reported_verbatim_and_nothing_is_reloaded(worker, mail_stack):
    conf = mail_stack.dovecot_conf
    original = conf.read_text()
    postfix_before = reloads(mail_stack.postfix_log)
    dovecot_before = len(h.log_lines(mail_stack.dovecot_log, "reloading configuration"))
    conf.write_text(original + "\nnot_a_dovecot_setting = 1\n")
    try:
        with broker(worker.broker_url):
            (op,) = services().reload_request(actor=None, host=host())
        wait_operations([op.pk])
    finally:
        conf.write_text(original)
    op.refresh_from_db()
    assert op.state == "failed"
    assert "doveconf -n failed" in op.last_error
    assert "not_a_dovecot_setting" in op.last_error  # doveconf's own words
    assert reloads(mail_stack.postfix_log) == postfix_before
    assert len(h.log_lines(mail_stack.dovecot_log, "reloading configuration")) == dovecot_before
    # Fixed, it can be retried from the record and goes through.
    with broker(worker.broker_url):
        services().operation_retry(actor=None, operation=op)
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    assert Operation.objects.get(pk=op.pk).attempts == 2


# --- Maildirs -----------------------------------------------------------------------------------

REMOTE = "sender@remote.mailstack.test"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens: the send fails, the row stays pending


def deliver(stack, address: str, count: int) -> None:
    h.send(stack.ports["smtp"], REMOTE, [address], h.message(REMOTE, [address], f"n{count}"))
    h.wait_messages(stack, address, count)


def domains():
    from domains import services as core

    return core


def only(address: str) -> list[Operation]:
    return list(Operation.objects.filter(mailbox_address=address))


def test_a_renamed_mailbox_keeps_its_mail_and_receives_at_the_new_address(worker, mail_stack):
    host()
    domain = h.make_domain()
    box = h.make_mailbox(f"old@{domain.name}")
    deliver(mail_stack, box.address, 1)
    new = f"new@{domain.name}"
    with broker(worker.broker_url):
        box = domains().mailbox_rename(actor=None, mailbox=box, address=new)
    (op,) = only(new)
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    box.refresh_from_db()
    assert (box.address, box.maildir, box.maildir_busy) == (new, f"{domain.name}/new/", False)
    assert len(mail_stack.messages(new)) == 1
    assert not mail_stack.maildir(f"old@{domain.name}").exists()
    deliver(mail_stack, new, 2)
    code, _ = h.rcpt_reply(mail_stack.ports["smtp"], REMOTE, f"old@{domain.name}")
    assert code == 550


def test_mail_sent_during_a_pending_move_is_deferred_then_delivered(worker, mail_stack):
    host()
    domain = h.make_domain()
    box = h.make_mailbox(f"before@{domain.name}")
    deliver(mail_stack, box.address, 1)
    new = f"after@{domain.name}"
    with broker(DEAD_BROKER):  # the operation is recorded but cannot be sent yet
        domains().mailbox_rename(actor=None, mailbox=box, address=new)
    (op,) = only(new)
    assert op.state == "pending" and op.dispatched_at is None
    h.send(mail_stack.ports["smtp"], REMOTE, [new], h.message(REMOTE, [new], "during"))
    wait_for(
        lambda: any(
            r["address"] == new and "busy" in r.get("delay_reason", "")
            for m in mail_stack.queue()
            for r in m["recipients"]
        ),
        timeout=30,
        what="the message deferred while the Maildir moves",
    )
    assert mail_stack.messages(new) == []
    from mailhost import dispatch

    with broker(worker.broker_url):
        assert dispatch.enqueue(op.pk)
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    from domains.models import Mailbox

    assert Mailbox.objects.get(address=new).maildir_busy is False
    assert mail_stack.postmap("transport_maps", new).returncode == 1  # no `retry:` any more
    # Postfix's queue manager caches its last address resolution (resolve_clnt): on a quiet test
    # server, mail for one other address replaces it, as any real traffic does.
    other = h.make_mailbox(f"other@{domain.name}")
    deliver(mail_stack, other.address, 1)
    mail_stack.flush()
    h.wait_messages(mail_stack, new, 2)  # the old message moved, the deferred one arrived


def test_a_deleted_mailbox_is_archived_a_recreated_one_starts_empty_and_restore_brings_it_back(
    worker, mail_stack
):
    from mailhost.models import ArchivedMaildir

    host()
    domain = h.make_domain()
    address = f"gone@{domain.name}"
    box = h.make_mailbox(address)
    deliver(mail_stack, address, 1)
    deliver(mail_stack, address, 2)
    with broker(worker.broker_url):
        domains().mailbox_delete(actor=None, mailbox=box)
    (op,) = only(address)
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.state == "done", op.last_error
    archive = ArchivedMaildir.objects.get(address=address)
    assert archive.archived_at is not None
    archived = mail_stack.vmail / archive.path
    assert len(list((archived / "new").glob("*")) + list((archived / "cur").glob("*"))) == 2
    assert not mail_stack.maildir(address).exists()

    again = h.make_mailbox(address)
    assert again.maildir_busy is False  # the archive finished: nothing to wait for
    deliver(mail_stack, address, 1)
    assert len(mail_stack.messages(address)) == 1  # the new owner sees only its own mail

    with broker(worker.broker_url):
        restore = services().archive_restore(actor=None, archive=archive)
    wait_operations([restore.pk])
    restore.refresh_from_db()
    assert restore.state == "done", restore.last_error
    assert len(mail_stack.messages(address)) == 3
    again.refresh_from_db()
    assert again.maildir_busy is False
    assert not archived.exists()


def test_a_mailbox_recreated_while_its_archive_is_pending_waits_for_it(worker, mail_stack):
    host()
    domain = h.make_domain()
    address = f"quick@{domain.name}"
    box = h.make_mailbox(address)
    deliver(mail_stack, address, 1)
    with broker(DEAD_BROKER):
        domains().mailbox_delete(actor=None, mailbox=box)
        again = h.make_mailbox(address)
    assert again.maildir_busy is True  # mail for it waits until the old Maildir is archived
    (op,) = only(address)
    from mailhost import dispatch

    with broker(worker.broker_url):
        dispatch.enqueue(op.pk)
    wait_operations([op.pk])
    again.refresh_from_db()
    assert again.maildir_busy is False
    assert mail_stack.messages(address) == []


def test_push_config_writes_what_mailconfig_renders_then_reloads(worker, mail_stack):
    main_cf = mail_stack.postfix_dir / "main.cf"
    rendered = main_cf.read_text()
    main_cf.write_text(rendered + "\n# a stale local edit\n")
    before = reloads(mail_stack.postfix_log)
    with broker(worker.broker_url):
        (op,) = services().reload_request(actor=None, host=host(), push_config=True)
    wait_operations([op.pk])
    op.refresh_from_db()
    assert op.kind == "push_config"
    assert op.state == "done", op.last_error
    assert main_cf.read_text() == rendered  # the generator's output again
    wait_for(
        lambda: reloads(mail_stack.postfix_log) > before, timeout=20, what="postfix reload logged"
    )
