"""App passwords through the API and the panel: shown once (no-store), only a SHA-256 stored,
scoped like every mailbox (another tenant's mailbox is a 404), revocable, audited without the
secret, and never a key to the panel. The mail side is in panel/tests/test_access_mail.py."""

import hashlib

import pytest
from django.test import Client

from accounts.models import Reseller, User
from api.tests.conftest import ApiClient, new_key
from audit.models import AuditEvent
from domains.models import AppPassword
from domains.tests.helpers import PASSWORD, make_domain, make_mailbox
from panel.tests.helpers import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    mine = Reseller.objects.create(name="Mine")
    theirs = Reseller.objects.create(name="Theirs")
    me = User.objects.create_user(username="me", role="reseller", reseller=mine)
    make_domain("mine.example", reseller=mine)
    make_domain("theirs.example", reseller=theirs)
    return {
        "api": ApiClient(new_key(me)),
        "me": me,
        "box": make_mailbox("a@mine.example"),
        "foreign": make_mailbox("b@theirs.example"),
    }


def test_create_list_revoke_through_the_api(world):
    api, box = world["api"], world["box"]
    url = f"mailboxes/{box.pk}/app-passwords/"
    created = api.post(url, {"name": "Phone", "protocol": "imap"})
    assert created.status_code == 201, created.content
    assert "no-store" in created["Cache-Control"]
    body = created.json()
    secret = body["password"]
    assert len(secret.replace("-", "")) == 28 and body["protocol"] == "imap"
    row = AppPassword.objects.get(pk=body["id"])
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(list(AuditEvent.objects.values_list("changes", flat=True)))

    listed = api.get(url).json()
    assert [r["name"] for r in listed] == ["Phone"] and "password" not in listed[0]

    bad = api.post(url, {"name": "", "protocol": "imap"})
    assert bad.status_code == 400 and "name" in bad.json()
    bad = api.post(url, {"name": "FTP", "protocol": "ftp"})
    assert bad.status_code == 400 and "protocol" in bad.json()
    assert api.delete(f"{url}{row.pk}/").status_code == 204
    assert not AppPassword.objects.filter(pk=row.pk).exists()
    assert AuditEvent.objects.filter(action="app_password.delete").exists()


def test_another_tenants_mailbox_is_a_404(world):
    api, foreign = world["api"], world["foreign"]
    from domains import services

    theirs, _secret = services.app_password_create(
        actor=None, mailbox=foreign, name="x", protocol="imap"
    )
    url = f"mailboxes/{foreign.pk}/app-passwords/"
    assert api.get(url).status_code == 404
    assert api.post(url, {"name": "Steal", "protocol": "imap"}).status_code == 404
    assert api.delete(f"{url}{theirs.pk}/").status_code == 404
    # Nor through my own mailbox's URL.
    mine = f"mailboxes/{world['box'].pk}/app-passwords/{theirs.pk}/"
    assert api.delete(mine).status_code == 404
    assert AppPassword.objects.filter(pk=theirs.pk).exists()


def test_the_limit_per_mailbox(world, settings):
    settings.MAILADMIN_MAX_APP_PASSWORDS = 2
    api, box = world["api"], world["box"]
    url = f"mailboxes/{box.pk}/app-passwords/"
    for name in ("one", "two"):
        assert api.post(url, {"name": name, "protocol": "smtp"}).status_code == 201
    assert api.post(url, {"name": "three", "protocol": "smtp"}).status_code == 400


def test_owner_pages_show_once_and_revoke(world):
    box = world["box"]
    owner = Client()
    owner.post("/mailbox/login/", {"address": box.address, "password": PASSWORD})
    page = owner.get("/mailbox/app-passwords/")
    assert page.status_code == 200
    created = owner.post("/mailbox/app-passwords/", {"name": "Laptop", "protocol": "pop3"})
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    row = AppPassword.objects.get(mailbox=box)
    body = text(created)
    start = body.index('id="new-app-password" class="secret">') + len(
        'id="new-app-password" class="secret">'
    )
    secret = body[start : body.index("<", start)]
    assert hashlib.sha256(secret.encode()).hexdigest() == row.secret_hash
    assert secret not in text(owner.get("/mailbox/app-passwords/"))
    # An app password is not the mail password: the panel refuses it.
    refused = Client().post("/mailbox/login/", {"address": box.address, "password": secret})
    assert refused.status_code == 200
    # The owner cannot revoke another mailbox's app password.
    from domains import services

    other, _ = services.app_password_create(
        actor=None, mailbox=world["foreign"], name="x", protocol="imap"
    )
    assert owner.post(f"/mailbox/app-passwords/{other.pk}/delete/").status_code == 404
    assert owner.post(f"/mailbox/app-passwords/{row.pk}/delete/").status_code == 302
    assert not AppPassword.objects.filter(pk=row.pk).exists()


def test_admin_pages(world):
    client = Client()
    client.force_login(world["me"])
    box, foreign = world["box"], world["foreign"]
    assert client.get(f"/mailboxes/{foreign.pk}/app-passwords/").status_code == 404
    created = client.post(
        f"/mailboxes/{box.pk}/app-passwords/", {"name": "Printer", "protocol": "smtp"}
    )
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    row = AppPassword.objects.get(mailbox=box)
    assert client.post(f"/app-passwords/{row.pk}/delete/").status_code == 302
    assert not AppPassword.objects.exists()
