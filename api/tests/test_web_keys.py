"""The web panel's API-key page: the key is shown once, works, can be revoked, and bad input is an
error on the form with nothing created."""

import re

import pytest
from django.test import Client

from accounts.models import User
from api.models import APIKey
from api.services import api_key_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(db):
    user = User.objects.create_user(username="ops", password="pw-123456789", role="superadmin")
    client = Client()
    client.force_login(user)
    return client, user


def test_a_key_made_in_the_panel_is_shown_once_and_works(browser):
    client, user = browser
    page = client.post("/account/api-keys/", {"name": "deploy", "read_only": "on"})
    assert page.status_code == 200
    shown = re.search(r'<pre id="new-key">(mak_[^<]+)</pre>', page.content.decode())
    assert shown, page.content.decode()
    key = APIKey.objects.get(user=user)
    assert key.name == "deploy" and key.read_only
    assert shown.group(1) not in key.secret_hash  # only the hash is stored
    me = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {shown.group(1)}")
    assert me.status_code == 200 and me.json()["username"] == "ops"
    # the list never shows the secret again
    again = client.get("/account/api-keys/").content.decode()
    assert shown.group(1) not in again and key.display_prefix in again


def test_revoking_in_the_panel_makes_the_key_fail(browser):
    client, _ = browser
    page = client.post("/account/api-keys/", {"name": "temp"}).content.decode()
    raw = re.search(r'<pre id="new-key">(mak_[^<]+)</pre>', page).group(1)
    key = APIKey.objects.get(name="temp")
    assert client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 302
    assert Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_bad_networks_are_a_form_error_and_nothing_is_created(browser):
    client, _ = browser
    page = client.post("/account/api-keys/", {"allowed_networks": "10.0.0.0/8, not-a-net"})
    assert page.status_code == 200
    assert "not-a-net is not a network" in page.content.decode()
    assert not APIKey.objects.exists()


def test_someone_elses_key_cannot_be_revoked(browser):
    client, _ = browser
    other = User.objects.create_user(username="other", password="pw-123456789")
    key, _ = api_key_create(actor=None, user=other)
    assert client.post(f"/account/api-keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_page_needs_a_login(db):
    assert Client().get("/account/api-keys/").status_code == 302
