"""End-to-end: what the panel writes is served at once by the real Postfix and Dovecot.

Runs with `-m mailstack` against PostgreSQL; skips without the Debian packages (install with
scripts/install-mailstack) unless MAILADMIN_REQUIRE_MAILSTACK=1, where it fails instead.
One stack serves the whole session (see conftest.py); every test uses domains of its own.
"""

from __future__ import annotations

import smtplib
import socket
import threading
import time

import psycopg
import pytest

from mailhost.mailconfig import POSTFIX_MAPS
from mailhost.stack import wait_for
from mailhost.tests import helpers as h

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]

REMOTE = "sender@remote.mailstack.test"


def services():
    from domains import services

    return services


# --- 1. lookups ------------------------------------------------------------------------------


def lookup(stack, name: str, key: str) -> set[str] | None:
    """postmap -q against one generated map: the result set, or None for not found. A database
    error also exits 1 with the reason on stderr only, so stderr must be empty either way."""
    proc = stack.postmap(name, key)
    assert proc.stderr == "", f"postmap {name} {key!r}: {proc.stderr}"
    assert proc.returncode in (0, 1), (name, key, proc.returncode)
    if proc.returncode == 1:
        return None
    return set(proc.stdout.strip().split(","))


def test_every_map_answers_from_the_views(mail_stack):
    s = services()
    local = h.make_domain()
    alice = h.make_mailbox(f"alice@{local.name}")
    bob = h.make_mailbox(f"bob@{local.name}")
    h.make_mailbox(f"carol@{local.name}", active=False)
    s.alias_create(
        actor=None, address=f"team@{local.name}", recipients=[alice.address, bob.address]
    )
    s.alias_create(actor=None, address=f"@{local.name}", recipients=[bob.address])
    s.sender_grant_create(actor=None, mailbox=alice, address=f"sales@{local.name}")
    alias_dom = h.unique_domain("a")
    s.alias_domain_create(actor=None, name=alias_dom, target=local)
    relay = h.make_domain(kind="relay", transport="smtp:[mx.relay.mailstack.test]:25")
    gone = h.make_domain()
    h.make_mailbox(f"dave@{gone.name}")
    s.domain_update(actor=None, domain=gone, active=False)
    unserved = h.unique_domain("u")

    # domains
    assert lookup(mail_stack, "virtual_mailbox_domains", local.name) == {local.name}
    assert lookup(mail_stack, "virtual_mailbox_domains", gone.name) is None
    assert lookup(mail_stack, "virtual_mailbox_domains", unserved) is None
    # alias domains are listed with the local ones (virtual_alias_domains is empty)
    assert lookup(mail_stack, "virtual_mailbox_domains", alias_dom) == {alias_dom}
    assert lookup(mail_stack, "virtual_mailbox_domains", relay.name) is None
    assert lookup(mail_stack, "relay_domains", relay.name) == {relay.name}
    assert lookup(mail_stack, "relay_domains", local.name) is None
    # transport_maps answers an address from its domain's row; a bare domain sends no query
    assert lookup(mail_stack, "transport_maps", f"x@{relay.name}") == {
        "smtp:[mx.relay.mailstack.test]:25"
    }
    assert lookup(mail_stack, "transport_maps", relay.name) is None
    assert lookup(mail_stack, "transport_maps", alice.address) is None
    # mailboxes
    assert lookup(mail_stack, "virtual_mailbox_maps", alice.address) == {alice.maildir}
    assert lookup(mail_stack, "virtual_mailbox_maps", f"carol@{local.name}") is None
    assert lookup(mail_stack, "virtual_mailbox_maps", f"dave@{gone.name}") is None
    assert lookup(mail_stack, "virtual_mailbox_maps", f"nobody@{local.name}") is None
    # aliases: explicit, several recipients, mailbox beats catch-all, alias domain
    aliases = "virtual_alias_maps"
    assert lookup(mail_stack, aliases, f"team@{local.name}") == {alice.address, bob.address}
    assert lookup(mail_stack, aliases, alice.address) == {alice.address}
    assert lookup(mail_stack, aliases, f"@{local.name}") == {bob.address}
    assert lookup(mail_stack, aliases, f"nobody@{local.name}") is None  # Postfix then tries @domain
    assert lookup(mail_stack, aliases, f"alice@{alias_dom}") == {alice.address}
    assert lookup(mail_stack, aliases, f"team@{alias_dom}") == {f"team@{local.name}"}
    assert lookup(mail_stack, aliases, f"@{alias_dom}") == {bob.address}
    assert lookup(mail_stack, aliases, f"carol@{local.name}") is None
    assert lookup(mail_stack, aliases, f"dave@{gone.name}") is None
    # sender logins: own address, aliases that reach the mailbox, grants, alias domain
    logins = "smtpd_sender_login_maps"
    assert lookup(mail_stack, logins, alice.address) == {alice.address}
    assert lookup(mail_stack, logins, f"team@{local.name}") == {alice.address, bob.address}
    assert lookup(mail_stack, logins, f"sales@{local.name}") == {alice.address}
    assert lookup(mail_stack, logins, f"alice@{alias_dom}") == {alice.address}
    assert lookup(mail_stack, logins, f"mallory@{local.name}") is None


INJECTION_KEYS = [
    "x' OR '1'='1",
    "' OR ''='",
    "'; DROP TABLE domains_domain; --",
    "x'); DELETE FROM mail_quota_usage; --",
    "' UNION SELECT password FROM mail_passdb --",
    "%",
    "%%",
    "%s",
    "_",
    "a%@%",
    "\\",
    "\\'",
    "x\\' OR 1=1 --",
    '"; SELECT 1; --',
    "@",
    "a" * 5000,
    "x@" + "b" * 300 + ".example",
]


def test_injection_keys_find_nothing(mail_stack):
    domain = h.make_domain()
    h.make_mailbox(f"alice@{domain.name}")
    for key in INJECTION_KEYS + [f"alice@{domain.name}' OR '1'='1", f"%@{domain.name}"]:
        for name in POSTFIX_MAPS:
            assert lookup(mail_stack, name, key) is None, (name, key)
    # ... and the data is intact
    assert lookup(mail_stack, "virtual_mailbox_domains", domain.name) == {domain.name}


# --- 2. auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT"])
def test_auth_each_hash_scheme(mail_stack, scheme):
    domain = h.make_domain()
    box = h.make_mailbox(f"user@{domain.name}", scheme=scheme)
    assert box.password.startswith("{" + scheme + "}")
    ok = mail_stack.auth_test(box.address, h.PASSWORD)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "auth succeeded" in ok.stdout
    upper = mail_stack.auth_test(box.address.upper(), h.PASSWORD)
    assert upper.returncode == 0, upper.stdout + upper.stderr
    wrong = mail_stack.auth_test(box.address, h.PASSWORD + "x")
    assert wrong.returncode == 77, wrong.stdout + wrong.stderr


def test_auth_refusals(mail_stack):
    s = services()
    domain = h.make_domain()
    inactive = h.make_mailbox(f"inactive@{domain.name}", active=False)
    no_imap = h.make_mailbox(f"noimap@{domain.name}", allow_imap=False)
    no_smtp = h.make_mailbox(f"nosmtp@{domain.name}", allow_smtp=False)
    gone = h.make_domain()
    in_gone = h.make_mailbox(f"user@{gone.name}")
    assert mail_stack.auth_test(in_gone.address, h.PASSWORD).returncode == 0
    s.domain_update(actor=None, domain=gone, active=False)

    def refused(user, service="imap"):
        proc = mail_stack.auth_test(user, h.PASSWORD, service)
        return proc.returncode != 0 and "auth failed" in proc.stdout

    assert refused(inactive.address)
    assert refused(in_gone.address)
    assert refused(f"nobody@{domain.name}")
    assert refused(no_imap.address, "imap")
    assert not refused(no_imap.address, "pop3")
    assert refused(no_smtp.address, "smtp")
    assert not refused(no_smtp.address, "imap")
    assert refused(no_smtp.address, "sieve")  # any other service is refused
    # and a change in the panel applies at once
    s.mailbox_update(actor=None, mailbox=no_imap, allow_imap=True)
    assert not refused(no_imap.address, "imap")


# --- 3. round trip ---------------------------------------------------------------------------


def test_round_trip_smtp_lmtp_imap_pop3(mail_stack):
    domain = h.make_domain()
    alice = h.make_mailbox(f"alice@{domain.name}")
    data = h.message(REMOTE, [alice.address])
    assert h.send(mail_stack.ports["smtp"], REMOTE, [alice.address], data) == {}
    files = h.wait_messages(mail_stack, alice.address)
    assert files[0].read_bytes().replace(b"\n", b"\r\n").endswith(data)

    (fetched,) = h.imap_fetch_all(mail_stack.ports["imap"], alice.address)
    header, _, body = data.partition(b"\r\n\r\n")
    assert fetched.endswith(data), fetched[-300:]
    assert fetched.split(b"\r\n\r\n", 1)[1] == body
    (retrieved,) = h.pop3_retr_all(mail_stack.ports["pop3"], alice.address)
    assert retrieved == fetched


def test_few_lookups_per_delivered_message(mail_stack):
    """One alias map, plain indexed keys: count the SQL statements a delivery costs, each to a
    recipient the daemons have not seen before (no process cache helps)."""
    from domains.models import QuotaUsage

    domain = h.make_domain()
    first = h.make_mailbox(f"first@{domain.name}")
    h.send(mail_stack.ports["smtp"], REMOTE, [first.address], h.message(REMOTE, [first.address]))
    h.wait_messages(mail_stack, first.address)  # the domain itself is known from here on
    costs = []
    for n in range(3):
        box = h.make_mailbox(f"count{n}@{domain.name}")
        pf, dc = mail_stack.postfix_proxy.queries, mail_stack.dovecot_proxy.queries
        relations = dict(mail_stack.postfix_proxy.relations)
        aliases = relations.get("mail_aliases", 0)
        h.send(mail_stack.ports["smtp"], REMOTE, [box.address], h.message(REMOTE, [box.address]))
        h.wait_messages(mail_stack, box.address)
        wait_for(  # Dovecot writes the usage back just after the delivery
            lambda box=box: QuotaUsage.objects.filter(mailbox=box, messages=1).exists(),
            timeout=20,
            what="quota usage after the delivery",
        )
        costs.append(
            (
                mail_stack.postfix_proxy.queries - pf,
                mail_stack.postfix_proxy.relations.get("mail_aliases", 0) - aliases,
                mail_stack.dovecot_proxy.queries - dc,
            )
        )
        print(
            "Postfix per relation:",
            {k: v - relations.get(k, 0) for k, v in mail_stack.postfix_proxy.relations.items()},
        )
    print(f"SQL per message to a new recipient (postfix, of which alias, dovecot): {costs}")
    for postfix, alias, dovecot in costs:
        # The alias map is read twice (RCPT validation in smtpd, expansion in cleanup) where
        # PostfixAdmin's chain of alias maps measured 5.6 per message. The rest are indexed
        # domain/transport keys that trivial-rewrite resolves for smtpd and for the queue
        # manager: one domain-list query per address (alias domains are in
        # virtual_mailbox_domains, no parent ".tld"; relay_domains too for the outside sender)
        # and, for the queue manager only, one transport_maps query (%d: no bare-domain and
        # ".tld" keys; smtpd's resolver asks none). Port 25's sender check, once per message,
        # costs one owned_senders read: 8 in all here (4 domain lists, 1 transport, 1 sender,
        # 2 aliases). The profile per message is in docs/benchmarks.md.
        assert alias == 2, costs
        # 9 before smtpd had its own resolver, 15 before the transport and alias-domain
        # change, ~26 before bench/
        assert postfix <= 8, costs
        assert dovecot == 2, costs  # userdb at RCPT time, quota usage written back


def test_alias_with_two_recipients_and_alias_domain(mail_stack):
    s = services()
    domain = h.make_domain()
    alice = h.make_mailbox(f"alice@{domain.name}")
    bob = h.make_mailbox(f"bob@{domain.name}")
    s.alias_create(
        actor=None, address=f"team@{domain.name}", recipients=[alice.address, bob.address]
    )
    alias_dom = h.unique_domain("a")
    s.alias_domain_create(actor=None, name=alias_dom, target=domain)

    team = h.message(REMOTE, [f"team@{domain.name}"])
    h.send(mail_stack.ports["smtp"], REMOTE, [f"team@{domain.name}"], team)
    for box in (alice, bob):
        (got,) = h.wait_messages(mail_stack, box.address)
        assert got.read_bytes().replace(b"\n", b"\r\n").endswith(team)

    via_alias_domain = h.message(REMOTE, [f"bob@{alias_dom}"])
    h.send(mail_stack.ports["smtp"], REMOTE, [f"bob@{alias_dom}"], via_alias_domain)
    files = h.wait_messages(mail_stack, bob.address, 2)
    assert any(f.read_bytes().replace(b"\n", b"\r\n").endswith(via_alias_domain) for f in files)
    assert len(mail_stack.messages(alice.address)) == 1


def test_mailbox_created_a_moment_ago_receives_mail_without_reload(mail_stack):
    domain = h.make_domain()
    h.make_mailbox(f"first@{domain.name}")
    # the domain is known to the running daemons; now a new mailbox appears in the panel
    h.send(mail_stack.ports["smtp"], REMOTE, [f"first@{domain.name}"], h.message(REMOTE, ["x"]))
    h.wait_messages(mail_stack, f"first@{domain.name}")
    new = h.make_mailbox(f"new@{domain.name}")
    data = h.message(REMOTE, [new.address])
    assert h.send(mail_stack.ports["smtp"], REMOTE, [new.address], data) == {}
    (got,) = h.wait_messages(mail_stack, new.address)
    assert got.read_bytes().replace(b"\n", b"\r\n").endswith(data)
    assert h.imap_fetch_all(mail_stack.ports["imap"], new.address)[0].endswith(data)


# --- 4. submission ---------------------------------------------------------------------------


def submission(port: int, user: str | None, password: str = h.PASSWORD) -> smtplib.SMTP:
    client = h.smtp(port)
    assert not client.has_extn("auth"), "AUTH offered before TLS"
    client.starttls(context=h.client_tls_context())
    client.ehlo("client.mailstack.test")
    assert client.has_extn("auth")
    assert "PLAIN" in client.esmtp_features["auth"].upper()
    if user:
        client.user, client.password = user, password
        code, msg = client.auth("PLAIN", client.auth_plain)
        assert code == 235, (code, msg)
    return client


def try_send(client: smtplib.SMTP, sender: str, recipient: str) -> tuple[int, str]:
    code, msg = client.mail(sender)
    if code == 250:
        code, msg = client.rcpt(recipient)
        if code == 250:
            code, msg = client.data(h.message(sender, [recipient]))
    client.rset()
    return code, msg.decode(errors="replace")


def test_submission_sender_login_and_no_open_relay(mail_stack):
    s = services()
    domain = h.make_domain()
    alice = h.make_mailbox(f"alice@{domain.name}")
    bob = h.make_mailbox(f"bob@{domain.name}")
    s.alias_create(actor=None, address=f"team@{domain.name}", recipients=[alice.address])
    s.sender_grant_create(actor=None, mailbox=alice, address=f"sales@{domain.name}")
    outside = "friend@elsewhere.mailstack.test"
    sub, smtp_port = mail_stack.ports["submission"], mail_stack.ports["smtp"]

    with submission(sub, alice.address) as client:
        assert try_send(client, alice.address, outside)[0] == 250
        assert try_send(client, f"team@{domain.name}", outside)[0] == 250  # alias to her
        assert try_send(client, f"sales@{domain.name}", outside)[0] == 250  # granted
        code, msg = try_send(client, bob.address, outside)
        assert code == 553 and "not owned by user" in msg, (code, msg)
        code, msg = try_send(client, "someone@elsewhere.mailstack.test", outside)
        assert code == 553, (code, msg)

    # implicit TLS (smtps) authenticates the same way
    with smtplib.SMTP_SSL(
        "127.0.0.1", mail_stack.ports["smtps"], context=h.client_tls_context(), timeout=30
    ) as client:
        client.ehlo("client.mailstack.test")
        client.user, client.password = alice.address, h.PASSWORD
        assert client.auth("PLAIN", client.auth_plain)[0] == 235
        assert try_send(client, alice.address, outside)[0] == 250

    # wrong password / no SMTP access: no AUTH
    no_smtp = h.make_mailbox(f"nosmtp@{domain.name}", allow_smtp=False)
    for user, password in ((alice.address, "wrong"), (no_smtp.address, h.PASSWORD)):
        with submission(sub, None) as client:
            client.user, client.password = user, password
            with pytest.raises(smtplib.SMTPAuthenticationError) as err:
                client.auth("PLAIN", client.auth_plain)
            assert err.value.smtp_code == 535

    # no open relay: port 25 from this very host, and submission without AUTH
    with h.smtp(smtp_port) as client:
        assert not client.has_extn("auth")
        code, msg = try_send(client, REMOTE, outside)
        assert code == 554 and "Relay access denied" in msg, (code, msg)
        code, msg = try_send(client, alice.address, outside)  # nor as her, without login
        assert code == 554 and "Log in to send as this address" in msg, (code, msg)
    with submission(sub, None) as client:
        code, msg = try_send(client, alice.address, outside)
        assert 500 <= code < 600, (code, msg)
        code, msg = try_send(client, "x@elsewhere.mailstack.test", outside)
        assert 500 <= code < 600, (code, msg)
    with h.smtp(sub) as client:  # no STARTTLS at all
        assert not client.has_extn("auth")
        code, msg = client.mail(alice.address)
        assert code == 530, (code, msg)

    # what was accepted is queued for the outside world (never delivered locally)
    queued = [m for m in mail_stack.queue() for r in m["recipients"] if r["address"] == outside]
    assert len(queued) == 4


# --- 5. quota --------------------------------------------------------------------------------


def test_quota_refused_over_limit_and_usage_written_back(mail_stack):
    from domains.models import QuotaUsage

    domain = h.make_domain()
    box = h.make_mailbox(f"quota@{domain.name}", quota_bytes=5000)
    small = h.message(REMOTE, [box.address], size=1000)
    h.send(mail_stack.ports["smtp"], REMOTE, [box.address], small)
    (stored,) = h.wait_messages(mail_stack, box.address)

    usage = wait_for(
        lambda: QuotaUsage.objects.filter(mailbox=box, messages=1).first(),
        timeout=20,
        what="quota usage written back",
    )
    assert usage.username == box.address
    _, vsize = h.maildir_sizes(stored)  # quota_vsizes: Dovecot counts CRLF line ends
    assert usage.bytes == vsize > len(small)
    assert usage.updated_at is not None

    # over LMTP directly: 552 5.2.2
    big = h.message(REMOTE, [box.address], size=8000)
    lmtp = smtplib.LMTP("127.0.0.1", mail_stack.ports["lmtp"], timeout=30)
    try:
        lmtp.ehlo_or_helo_if_needed()
        assert lmtp.mail(REMOTE)[0] == 250
        assert lmtp.rcpt(box.address)[0] == 250
        code, msg = lmtp.data(big)  # LMTP: one reply per recipient, here one
        assert code == 552 and msg.startswith(b"5.2.2"), (code, msg)
    finally:
        lmtp.close()

    # through Postfix: accepted, then bounced on the LMTP 552 (the sender gets a DSN)
    assert h.send(mail_stack.ports["smtp"], REMOTE, [box.address], big) == {}
    bounced = wait_for(
        lambda: [
            line
            for line in h.log_lines(mail_stack.postfix_log, f"to=<{box.address}>")
            if "status=bounced" in line
        ],
        timeout=20,
        what="the over-quota bounce",
    )
    assert "552 5.2.2" in bounced[0]
    assert len(mail_stack.messages(box.address)) == 1
    # and the panel still reads one message
    assert QuotaUsage.objects.get(mailbox=box).messages == 1


# --- 6. refusals -----------------------------------------------------------------------------


def test_refusals_with_the_right_codes(mail_stack):
    s = services()
    domain = h.make_domain()
    h.make_mailbox(f"alice@{domain.name}")
    h.make_mailbox(f"carol@{domain.name}", active=False)
    alias_dom = h.unique_domain("a")
    s.alias_domain_create(actor=None, name=alias_dom, target=domain)
    off = h.make_domain()
    h.make_mailbox(f"dave@{off.name}")
    s.domain_update(actor=None, domain=off, active=False)
    port = mail_stack.ports["smtp"]

    for rcpt in (f"nobody@{domain.name}", f"carol@{domain.name}", f"nobody@{alias_dom}"):
        code, msg = h.rcpt_reply(port, REMOTE, rcpt)
        assert code == 550 and msg.startswith("5.1.1"), (rcpt, code, msg)
    # An alias domain is a virtual mailbox domain whose addresses are all aliases.
    assert (
        "User unknown in virtual mailbox table" in h.rcpt_reply(port, REMOTE, f"x@{alias_dom}")[1]
    )
    for rcpt in (f"x@{h.unique_domain('u')}", f"dave@{off.name}"):
        code, msg = h.rcpt_reply(port, REMOTE, rcpt)
        assert code == 554 and "Relay access denied" in msg, (rcpt, code, msg)
    assert h.rcpt_reply(port, REMOTE, f"alice@{domain.name}")[0] == 250


# --- 8. bounded connections ------------------------------------------------------------------


def superuser_conninfo():
    from django.db import connection

    d = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=d.get("HOST") or "127.0.0.1",
        port=d.get("PORT") or 5432,
        user=d.get("USER") or "postgres",
        password=d.get("PASSWORD") or None,
        dbname=d["NAME"],
    )


def test_fifty_concurrent_sessions_hold_at_most_twenty_connections(mail_stack):
    sessions = 50
    domain = h.make_domain()
    boxes = [h.make_mailbox(f"u{i}@{domain.name}") for i in range(5)]
    conninfo = superuser_conninfo()
    peak = [0]
    done = threading.Event()

    def sample():
        with psycopg.connect(conninfo, autocommit=True) as conn:
            while not done.is_set():
                n = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s",
                    [mail_stack.role, mail_stack.db_name],
                ).fetchone()[0]
                peak[0] = max(peak[0], n)
                time.sleep(0.01)

    barrier = threading.Barrier(sessions)
    errors = []

    def session(i):
        rcpt = boxes[i % len(boxes)].address
        try:
            with h.smtp(mail_stack.ports["smtp"], timeout=60) as client:
                barrier.wait(timeout=60)
                client.sendmail(REMOTE, [rcpt], h.message(REMOTE, [rcpt], f"session {i}\r\n"))
        except Exception as exc:  # noqa: BLE001
            errors.append((i, repr(exc)))

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        wait_for(
            lambda: sum(len(mail_stack.messages(b.address)) for b in boxes) >= sessions,
            timeout=60,
            what="all 50 messages delivered",
        )
    finally:
        done.set()
        sampler.join()
    assert sum(len(mail_stack.messages(b.address)) for b in boxes) == sessions
    # every delivery's usage reached the panel (no dict client was turned away under load)
    from domains.models import QuotaUsage

    def usage_complete():
        rows = {u.mailbox_id: u.messages for u in QuotaUsage.objects.filter(mailbox__in=boxes)}
        return all(rows.get(b.pk) == len(mail_stack.messages(b.address)) for b in boxes)

    wait_for(usage_complete, timeout=30, what="quota usage of all 50 deliveries")
    print(f"peak PostgreSQL connections of the mail role: {peak[0]}")
    assert 1 <= peak[0] <= 20, peak[0]
    assert peak[0] <= mail_stack.cfg.max_db_connections


# --- 7. database outage ------------------------------------------------------------------------


def test_database_outage_defers_and_never_bounces(mail_stack):
    domain = h.make_domain()
    box = h.make_mailbox(f"patient@{domain.name}")
    port = mail_stack.ports["smtp"]
    # warm up: the domain is served
    h.send(port, REMOTE, [box.address], h.message(REMOTE, [box.address]))
    h.wait_messages(mail_stack, box.address, 1)

    # a) Dovecot loses the database: Postfix accepts, LMTP answers 4xx, the mail waits queued
    mail_stack.dovecot_proxy.cut()
    try:
        queued_msg = h.message(REMOTE, [box.address], "queued while Dovecot's database is away")
        assert h.send(port, REMOTE, [box.address], queued_msg) == {}
        deferred = wait_for(
            lambda: [
                m
                for m in mail_stack.queue()
                if m["queue_name"] == "deferred"
                and any(r["address"] == box.address for r in m["recipients"])
            ],
            timeout=30,
            what="the message deferred while the database is away",
        )
        reason = deferred[0]["recipients"][0].get("delay_reason", "")
        assert " 4" in reason or reason.startswith("4"), reason
        assert len(mail_stack.messages(box.address)) == 1
    finally:
        mail_stack.dovecot_proxy.restore()
    # delivered once the database is back (the stack retries every few seconds)
    # Generous bounds: Postfix retries a failed database host after 60 s (~70 s in all here).
    files = h.wait_messages(mail_stack, box.address, 2, timeout=150)
    assert any(f.read_bytes().replace(b"\n", b"\r\n").endswith(queued_msg) for f in files)

    # b) Postfix loses the database: a temporary 4xx, never a 5xx (at MAIL FROM, where port
    # 25's sender check is the first lookup, or at RCPT TO)
    mail_stack.postfix_proxy.cut()
    try:
        with h.smtp(port) as client:
            code, msg = client.mail(REMOTE)
            if code == 250:
                code, msg = client.rcpt(box.address)
            client.rset()
        assert 400 <= code < 500, (code, msg)
    finally:
        mail_stack.postfix_proxy.restore()
    # the sender retries; once lookups work again the mail is accepted and delivered
    later = h.message(REMOTE, [box.address], "sent again after the outage")

    def accepted():
        try:
            return h.send(port, REMOTE, [box.address], later) == {}
        except smtplib.SMTPRecipientsRefused as exc:
            ((code, _),) = exc.recipients.values()
            assert 400 <= code < 500, exc.recipients
            return False
        except smtplib.SMTPSenderRefused as exc:
            assert 400 <= exc.smtp_code < 500, exc
            return False

    wait_for(accepted, timeout=150, interval=1.0, what="Postfix lookups after the outage")
    # (accepted mail may wait a little longer in the queue: the delivery side's lookups recover
    # on their own schedule, and the queue retries every few seconds)
    h.wait_messages(mail_stack, box.address, 3, timeout=150)

    # Dovecot's second passdb (app passwords, docs/lookups.md) has a connection of its own, idle
    # through this outage: it reconnects on its own back-off, which the next tests must not meet.
    # An unknown user is asked of both passdbs; the answer (77) comes once both are back.
    unknown = mail_stack.doveadm(
        "auth", "test", "-x", "service=imap", "nobody@outage.example", "x", timeout=150
    )
    assert unknown.returncode == 77, unknown.stderr

    # nothing bounced: no DSN to the sender, no bounce in the log for this mailbox
    assert not [
        line
        for line in h.log_lines(mail_stack.postfix_log, f"to=<{box.address}>")
        if "status=bounced" in line
    ]
    assert not [
        m
        for m in mail_stack.queue()
        if m["sender"] == ""
        and any(r["address"] == REMOTE for r in m["recipients"])
        and box.address in str(m)
    ]


def test_stack_reports_itself_and_up_twice_does_not_start_twice(mail_stack):
    from mailhost import stack as mailstack

    again, info = mailstack.up(mail_stack.root)
    assert info["already_running"] is True
    assert info["ports"] == mail_stack.ports
    status = mailstack.status(mail_stack.root)
    assert status["running"] and status["postfix"] and status["dovecot"]
    assert all(status["answering"].values()), status["answering"]
    with socket.create_connection(("127.0.0.1", mail_stack.ports["smtp"]), timeout=5) as sock:
        assert sock.recv(100).startswith(b"220 ")
