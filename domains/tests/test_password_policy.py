"""The password policy (domains.passwords.validate_plain_password) in every service that takes a
plaintext password, mailboxes and panel users alike, and its field errors in the web forms and
the API. Imported hashes are exempt: they have no plaintext."""

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import User
from domains import services
from domains.passwords import hash_password, verify_password
from domains.tests.helpers import PASSWORD, make_domain, make_mailbox, refused
from panel.tests.helpers import field_errors, text

pytestmark = pytest.mark.django_db

GOOD = "Quartz-Lantern-Meadow-7"


@pytest.fixture
def box(db):
    make_domain("policy.example")
    return make_mailbox("jonathan@policy.example")


@pytest.mark.parametrize(
    "password,code",
    [
        ("short1", "too_short"),
        ("x" * 1025, "too_long"),
        ("tab\there-long-enough", "invalid"),
        ("bell\x07-long-enough", "invalid"),
        ("lone\ud800surrogate-long", "invalid"),
        ("jonathan@policy.example", "contains_name"),
        ("my-JONATHAN-password", "contains_name"),
        ("password123", "common"),
        ("1234567890", "common"),
        ("qwertyuiop", "common"),
    ],
)
def test_refused_for_every_plaintext_entry(box, password, code):
    make_domain("other.example")
    with refused("password", code):
        services.mailbox_create(actor=None, address="jonathan@other.example", password=password)
    with refused("password", code):
        services.mailbox_set_password(actor=None, mailbox=box, password=password)
    with refused("password", code):
        services.mailbox_owner_change_password(
            mailbox=box, current_password=PASSWORD, new_password=password
        )
    with refused("password", code):
        account_services.user_create(
            actor=None, username="jonathan", password=password, role="superadmin"
        )


def test_admin_password_change_follows_the_policy(db):
    user = account_services.user_create(
        actor=None, username="ops", password=GOOD, role="superadmin"
    )
    with refused("password", "contains_name"):
        account_services.user_set_password(actor=user, user=user, password="my-ops-password-x")
    account_services.user_set_password(actor=user, user=user, password="Another-Fine-Phrase-9")
    user.refresh_from_db()
    assert user.check_password("Another-Fine-Phrase-9")


def test_a_good_password_and_an_imported_hash_pass(box):
    services.mailbox_set_password(actor=None, mailbox=box, password=GOOD)
    box.refresh_from_db()
    assert verify_password(GOOD, box.password)
    # An imported hash of a weak password is taken: there is no plaintext to judge.
    services.mailbox_set_password(
        actor=None, mailbox=box, password_hash=hash_password("password123", "SHA512-CRYPT")
    )


def test_field_errors_in_the_api_and_the_panel(box):
    admin = User.objects.create_user(username="root", role="superadmin", is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/api/v1/mailboxes/",
        {"address": "x@policy.example", "password": "password123"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "password" in response.json()
    response = client.patch(
        f"/api/v1/mailboxes/{box.pk}/",
        {"password": "jonathan-secret"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "password" in response.json()

    owner = Client()
    owner.post("/mailbox/login/", {"address": box.address, "password": PASSWORD})
    page = owner.post(
        "/mailbox/password/",
        {
            "current_password": PASSWORD,
            "password": "qwertyuiop",
            "password_again": "qwertyuiop",
        },
    )
    assert page.status_code == 200
    assert field_errors(text(page), "password")
    box.refresh_from_db()
    assert verify_password(PASSWORD, box.password)


def test_admin_login_rehash_is_audited_without_the_hash(db, settings):
    from django.contrib.auth.hashers import make_password

    from audit.models import AuditEvent

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = User.objects.create(username="old", role="superadmin", is_superuser=True)
    user.password = make_password(GOOD, hasher="pbkdf2_sha256")
    user.save()
    response = Client().post("/login/", {"username": "old", "password": GOOD})
    assert response.status_code == 302 and response["Location"] == "/"
    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    event = AuditEvent.objects.get(action="user.password_rehash")
    assert event.changes == {"algorithm": {"before": "pbkdf2_sha256", "after": "argon2"}}
    assert (event.channel, event.actor_label) == ("web", "old")


def test_a_panel_user_changes_its_own_password(db):
    user = account_services.user_create(
        actor=None, username="ops", password=GOOD, role="superadmin"
    )
    client = Client()
    client.force_login(user)
    page = client.post(
        "/account/password/",
        {"current_password": GOOD, "password": "password123", "password_again": "password123"},
    )
    assert page.status_code == 200 and field_errors(text(page), "password")
    page = client.post(
        "/account/password/",
        {
            "current_password": "wrong",
            "password": "Fresh-Harbour-4",
            "password_again": "Fresh-Harbour-4",
        },
    )
    assert field_errors(text(page), "current_password")
    done = client.post(
        "/account/password/",
        {
            "current_password": GOOD,
            "password": "Fresh-Harbour-Lights-42",
            "password_again": "Fresh-Harbour-Lights-42",
        },
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Fresh-Harbour-Lights-42")
    assert client.get("/domains/").status_code == 200  # this session stays
