"""Issue 11's access rules on the real Postfix and Dovecot (mailhost.stack): app passwords log in
to the protocol they are for and nothing else (not the panel, not after revocation), and a login
to the panel moves an imported hash to the configured scheme, which Dovecot then accepts."""

import imaplib
import os
import poplib
import smtplib

import pytest
from django.test import Client, override_settings

from audit.models import AuditEvent
from domains import services
from domains.models import AppPasswordUse, Mailbox
from domains.passwords import hash_password, needs_rehash, split_scheme

try:
    from mailhost.tests import helpers as h
    from mailhost.tests.conftest import mail_stack  # noqa: F401
except ImportError:
    if os.environ.get("MAILADMIN_REQUIRE_MAILSTACK") == "1":
        raise
    pytest.skip("mailhost/tests (the mail_stack fixture) is not there", allow_module_level=True)

pytestmark = [pytest.mark.mailstack, pytest.mark.django_db(transaction=True)]


def imap_ok(port: int, user: str, password: str) -> bool:
    client = imaplib.IMAP4("127.0.0.1", port)
    try:
        client.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001
            pass


def pop3_ok(port: int, user: str, password: str) -> bool:
    client = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        client.user(user)
        client.pass_(password)
        return True
    except poplib.error_proto:
        return False
    finally:
        try:
            client.quit()
        except Exception:  # noqa: BLE001
            pass


def submission_ok(port: int, user: str, password: str) -> bool:
    client = h.smtp(port)
    try:
        client.starttls(context=h.client_tls_context())
        client.ehlo("client.mailstack.test")
        try:
            client.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False
    finally:
        client.quit()


def panel_login_ok(address: str, password: str) -> bool:
    response = Client().post("/mailbox/login/", {"address": address, "password": password})
    return response.status_code == 302 and response["Location"] == "/mailbox/"


def test_app_passwords_on_the_real_stack(mail_stack):
    ports = mail_stack.ports
    address = f"alice@{h.make_domain().name}"
    h.make_mailbox(address)
    mailbox = Mailbox.objects.get(address=address)
    _imap, imap_secret = services.app_password_create(
        actor=None, mailbox=mailbox, name="Phone", protocol="imap"
    )
    smtp_row, smtp_secret = services.app_password_create(
        actor=None, mailbox=mailbox, name="Printer", protocol="smtp"
    )

    # Each works for its own protocol, and Dovecot records the login...
    assert AppPasswordUse.objects.count() == 0
    assert imap_ok(ports["imap"], address, imap_secret)
    assert submission_ok(ports["submission"], address, smtp_secret)
    used = dict(AppPasswordUse.objects.values_list("app_password_id", "last_used_at"))
    assert set(used) == {_imap.pk, smtp_row.pk}
    assert mail_stack.auth_test(address, imap_secret, "imap").returncode == 0
    # ... and for no other.
    assert not imap_ok(ports["imap"], address, smtp_secret)
    assert not submission_ok(ports["submission"], address, imap_secret)
    assert not pop3_ok(ports["pop3"], address, imap_secret)
    # Another mailbox's user name with this secret: refused.
    other = f"bob@{mailbox.domain.name}"
    h.make_mailbox(other)
    assert not imap_ok(ports["imap"], other, imap_secret)
    # ... only a successful one: wrong passwords and protocols touched nothing.
    assert dict(AppPasswordUse.objects.values_list("app_password_id", "last_used_at")) == used
    # The main password keeps working everywhere.
    assert imap_ok(ports["imap"], address, h.PASSWORD)
    assert pop3_ok(ports["pop3"], address, h.PASSWORD)
    assert submission_ok(ports["submission"], address, h.PASSWORD)
    # An app password never opens the panel.
    assert not panel_login_ok(address, imap_secret)
    assert panel_login_ok(address, h.PASSWORD)

    # A protocol switched off on the mailbox switches its app passwords off too.
    services.mailbox_update(actor=None, mailbox=mailbox, allow_smtp=False)
    assert not submission_ok(ports["submission"], address, smtp_secret)
    services.mailbox_update(actor=None, mailbox=mailbox, allow_smtp=True)
    assert submission_ok(ports["submission"], address, smtp_secret)

    # Revoked: refused at once.
    services.app_password_delete(actor=None, app_password=smtp_row)
    assert not submission_ok(ports["submission"], address, smtp_secret)
    services.app_password_delete(actor=None, app_password=_imap)
    assert mail_stack.auth_test(address, imap_secret, "imap").returncode != 0
    assert not imap_ok(ports["imap"], address, imap_secret)
    assert imap_ok(ports["imap"], address, h.PASSWORD)


@pytest.mark.parametrize(
    "scheme,settings_kw",
    [
        ("SHA512-CRYPT", {}),
        ("BLF-CRYPT", {"MAIL_BCRYPT_ROUNDS": 10}),
        # The configured scheme at another cost is rehashed too.
        ("ARGON2ID", {"MAIL_ARGON2_TIME_COST": 2}),
    ],
)
def test_an_owner_login_rehashes_and_dovecot_accepts_the_new_hash(mail_stack, scheme, settings_kw):
    address = f"carol@{h.make_domain().name}"
    with override_settings(**settings_kw):
        imported = hash_password(h.PASSWORD, scheme)
    services.mailbox_create(actor=None, address=address, password_hash=imported)
    assert needs_rehash(imported)
    assert mail_stack.auth_test(address, h.PASSWORD).returncode == 0

    client = Client()
    response = client.post("/mailbox/login/", {"address": address, "password": h.PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/mailbox/"

    stored = Mailbox.objects.get(address=address).password
    assert stored != imported
    assert split_scheme(stored)[0] == "ARGON2ID" and not needs_rehash(stored)
    # Dovecot reads the new hash from mail_passdb and accepts the same password with it.
    assert mail_stack.auth_test(address, h.PASSWORD).returncode == 0
    assert mail_stack.auth_test(address, "not the password").returncode != 0
    # The owner's own session survives its rehash.
    assert client.get("/mailbox/").status_code == 200
    event = AuditEvent.objects.get(action="mailbox.password_rehash", object_repr=address)
    assert event.changes == {"scheme": {"before": scheme, "after": "ARGON2ID"}}
    assert (event.channel, event.actor_label) == ("web", address)
    assert "$" not in str(event.changes)
    # A second login leaves the current hash alone.
    Client().post("/mailbox/login/", {"address": address, "password": h.PASSWORD})
    assert Mailbox.objects.get(address=address).password == stored
