"""The mailbox owner's side of the panel: logging in with the mail password goes through
django.contrib.auth.authenticate(), the owner is no panel user and opens no admin page, and
password and forwarding changes go through the services' rules."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.test import Client, RequestFactory

from accounts.models import User
from audit.models import AuditEvent
from domains import services
from domains.models import Mailbox
from domains.passwords import verify_password
from domains.tests.helpers import PASSWORD, make_alias, make_domain, make_mailbox
from panel.auth import MailboxOwner
from panel.tests.helpers import field_errors, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(db):
    make_domain("home.example")
    make_mailbox("other@home.example")
    return make_mailbox("me@home.example")


def log_in(address="me@home.example", password=PASSWORD) -> Client:
    client = Client()
    response = client.post("/mailbox/login/", {"address": address, "password": password})
    assert response.status_code == 302 and response["Location"] == "/mailbox/", text(response)
    return client


def test_authenticate_answers_only_for_the_address_keyword(box):
    request = RequestFactory().get("/")
    owner = authenticate(request, address="ME@home.example", password=PASSWORD)
    assert isinstance(owner, MailboxOwner) and owner.mailbox == box
    assert not owner.is_superadmin and not isinstance(owner, User)
    # The admin login form passes `username`: a mailbox never logs in there.
    assert authenticate(request, username="me@home.example", password=PASSWORD) is None
    assert authenticate(request, address="me@home.example", password="wrong password") is None
    assert authenticate(request, address="nobody@home.example", password=PASSWORD) is None


def test_a_failed_owner_login_is_seen_by_login_throttling(box):
    """Throttles hook Django's failed-login signal: the owner form must raise it."""
    seen = []

    def record(sender, credentials, request, **kwargs):
        seen.append(credentials)

    user_login_failed.connect(record)
    try:
        response = Client().post(
            "/mailbox/login/", {"address": "me@home.example", "password": "wrong password"}
        )
    finally:
        user_login_failed.disconnect(record)
    assert response.status_code == 200
    assert "The address or the password is not right." in text(response)
    assert seen and seen[0]["address"] == "me@home.example"
    assert seen[0]["password"] != "wrong password"  # Django masks it


def test_inactive_mailbox_or_domain_cannot_log_in(box):
    services.mailbox_update(actor=None, mailbox=box, active=False)
    response = Client().post("/mailbox/login/", {"address": box.address, "password": PASSWORD})
    assert response.status_code == 200
    services.mailbox_update(actor=None, mailbox=box, active=True)
    services.domain_update(actor=None, domain=box.domain, active=False)
    response = Client().post("/mailbox/login/", {"address": box.address, "password": PASSWORD})
    assert response.status_code == 200


def test_the_owner_opens_no_admin_page(box):
    client = log_in()
    for path in (
        "/",
        "/domains/",
        f"/domains/{box.domain_id}/",
        f"/mailboxes/{box.pk}/",
        "/audit/",
        "/account/api-keys/",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path
    response = client.post(f"/mailboxes/{box.pk}/toggle/")
    assert response.status_code == 302 and Mailbox.objects.get(pk=box.pk).active


def test_owner_sees_quota_and_identities(box):
    make_alias("sales@home.example", [box.address])
    services.sender_grant_create(actor=None, mailbox=box, address="@home.example")
    page = text(log_in().get("/mailbox/"))
    assert "me@home.example" in page and "sales@home.example" in page
    assert "any address at @home.example" in page
    assert "other@home.example" not in page


def test_owner_changes_password(box):
    client = log_in()
    response = client.post(
        "/mailbox/password/",
        {
            "current_password": "not it",
            "password": "new password 12",
            "password_again": "new password 12",
        },
    )
    assert field_errors(text(response), "current_password")
    response = client.post(
        "/mailbox/password/",
        {"current_password": PASSWORD, "password": "short", "password_again": "short"},
    )
    assert "at least 10 characters" in " ".join(field_errors(text(response), "password"))
    response = client.post(
        "/mailbox/password/",
        {
            "current_password": PASSWORD,
            "password": "new password 12",
            "password_again": "new password 12",
        },
        follow=True,
    )
    assert "Your password was changed." in text(response)
    assert verify_password("new password 12", Mailbox.objects.get(pk=box.pk).password)
    assert client.get("/mailbox/").status_code == 200  # this session goes on
    event = AuditEvent.objects.filter(action="mailbox.password").latest("id")
    assert event.changes == {"password": {"before": "(secret)", "after": "(changed)"}}
    assert (event.actor, event.actor_label, event.channel) == (None, box.address, "web")
    assert "new password 12" not in str(event.changes) and PASSWORD not in str(event.changes)


def test_a_password_changed_elsewhere_ends_the_owner_session(box):
    client = log_in()
    services.mailbox_set_password(actor=None, mailbox=box, password="set by the admin 1")
    response = client.get("/mailbox/")
    assert response.status_code == 302 and response["Location"] == "/mailbox/login/"


def test_owner_sets_forwarding_under_the_service_rules(box):
    client = log_in()
    response = client.post("/mailbox/", {"forward_to": "me@home.example"})
    assert field_errors(text(response), "forward_to")
    response = client.post("/mailbox/", {"forward_to": "nobody@home.example"})
    assert "does not exist here" in " ".join(field_errors(text(response), "forward_to"))
    response = client.post(
        "/mailbox/", {"forward_to": "other@home.example\nout@elsewhere.example"}, follow=True
    )
    box.refresh_from_db()
    assert [f.address for f in box.forwards.order_by("id")] == [
        "other@home.example",
        "out@elsewhere.example",
    ]
    assert not box.keep_copy
    assert "Your forwarding was saved." in text(response)
    client.post("/mailbox/", {"forward_to": "", "keep_copy": "on"})
    box.refresh_from_db()
    assert box.keep_copy and not box.forwards.exists()


def test_owner_session_is_not_an_admin_session(box, superadmin):
    client = Client()
    client.force_login(superadmin)
    client.post("/mailbox/login/", {"address": box.address, "password": PASSWORD})
    # Logging in as an owner ends the admin login in that browser.
    assert client.get("/domains/").status_code == 302
    assert client.get("/mailbox/").status_code == 200
    client.post("/mailbox/logout/")
    assert client.get("/mailbox/").status_code == 302
