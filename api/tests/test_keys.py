"""API keys: who they authenticate, what they may do, and how they are stored."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from api.models import APIKey
from api.services import api_key_create
from api.tests.conftest import ApiClient, new_key
from domains.models import Mailbox
from domains.tests.helpers import make_alias

pytestmark = pytest.mark.postgres


def test_key_acts_as_its_owner(world):
    # Every count differs from the others, so one standing in for another (aliases reported
    # as mailboxes, say) fails.
    make_alias(f"extra@{world.a.domains[0].name}", [f"user@{world.a.domains[0].name}"])
    Mailbox.objects.filter(address=f"user@{world.a.domains[0].name}").update(quota_bytes=7)
    me = ApiClient(world.a.key).get("me/").json()
    assert me["username"] == "res-a"
    assert me["role"] == "reseller"
    assert me["reseller"]["id"] == world.a.reseller.pk
    assert me["usage"] == {"domains": 3, "mailboxes": 4, "aliases": 5, "quota_bytes": 7}
    assert me["reseller"]["usage"] == me["usage"]
    assert me["api_key"]["prefix"] == world.a.key[:12]


def test_x_api_key_header_works_too(world):
    response = ApiClient().get("me/", headers={"X-API-Key": world.a.key})
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "res-a"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer nonsense",
        "Bearer mak_short",
        "Bearer mak_abcdefgh_" + "x" * 43,  # well-formed, unknown
        "Basic dXNlcjpwYXNz",
    ],
)
def test_missing_malformed_or_unknown_keys_get_401(world, header):
    client = ApiClient()
    headers = {"Authorization": header} if header else {}
    response = client.get("domains/", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert list(response.json()) == ["detail"]


def test_wrong_secret_for_a_real_prefix_gets_401(world):
    tampered = world.a.key[:-4] + ("AAAA" if not world.a.key.endswith("AAAA") else "BBBB")
    assert ApiClient(tampered).get("domains/").status_code == 401


def test_expired_key_gets_401(world):
    key, full = api_key_create(
        actor=None, user=world.a.user, expires_at=timezone.now() + timedelta(hours=1)
    )
    assert ApiClient(full).get("domains/").status_code == 200
    APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = ApiClient(full).get("domains/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"][0]


def test_revoked_key_gets_401_and_revoking_goes_through_the_api(world):
    key, full = api_key_create(actor=None, user=world.a.user, name="to revoke")
    owner = ApiClient(world.a.key)
    response = owner.post(f"api-keys/{key.pk}/revoke/")
    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"] is not None
    response = ApiClient(full).get("domains/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"][0]


def test_deleted_key_gets_401(world):
    key, full = api_key_create(actor=None, user=world.a.user)
    assert ApiClient(world.a.key).delete(f"api-keys/{key.pk}/").status_code == 204
    assert ApiClient(full).get("me/").status_code == 401


def test_key_of_a_disabled_user_gets_401(world):
    world.a.user.is_active = False
    world.a.user.save()
    assert ApiClient(world.a.key).get("me/").status_code == 401


def test_read_only_key_reads_but_cannot_write(world):
    ro = ApiClient(new_key(world.a.user, read_only=True))
    assert ro.get("mailboxes/").status_code == 200
    domain = world.a.domains[0]
    box = Mailbox.objects.get(address=f"user@{domain.name}")
    before = Mailbox.objects.count()
    attempts = [
        ro.post("mailboxes/", {"address": f"new@{domain.name}", "password": "a long password"}),
        ro.patch(f"mailboxes/{box.pk}/", {"name": "changed"}),
        ro.put(f"mailboxes/{box.pk}/", {"name": "changed"}),
        ro.delete(f"mailboxes/{box.pk}/"),
        ro.post("api-keys/", {"name": "escalate"}),
        ro.post("domains/", {"name": "ro-new.example"}),
    ]
    for response in attempts:
        assert response.status_code == 403, response.content
        assert response.json() == {"detail": ["This API key is read-only."]}
    box.refresh_from_db()
    assert box.name == "" and Mailbox.objects.count() == before


def test_allowed_networks_are_checked_against_the_source_address(world):
    full = new_key(world.a.user, allowed_networks=["192.0.2.0/24", "2001:db8::/32"])
    assert ApiClient(full, remote_addr="192.0.2.55").get("me/").status_code == 200
    assert ApiClient(full, remote_addr="2001:db8::7").get("me/").status_code == 200
    response = ApiClient(full, remote_addr="198.51.100.1").get("me/")
    assert response.status_code == 401
    assert "address" in response.json()["detail"][0]


def test_last_used_is_recorded_at_most_once_a_minute(world, django_assert_num_queries):
    key, full = api_key_create(actor=None, user=world.a.user)
    client = ApiClient(full)
    assert client.get("me/").status_code == 200
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None and key.last_used_ip == "127.0.0.1"
    client.get("me/")
    key.refresh_from_db()
    assert key.last_used_at == first  # no write within the minute
    APIKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("me/")
    key.refresh_from_db()
    assert key.last_used_at > first


def test_created_key_is_shown_once_and_stored_as_a_hash(world):
    owner = ApiClient(world.a.key)
    response = owner.post(
        "api-keys/",
        {"name": "ci", "read_only": True, "allowed_networks": ["10.1.2.3/8"]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    full = body["key"]
    assert full.startswith(body["prefix"] + "_")
    assert body["allowed_networks"] == ["10.0.0.0/8"]
    row = APIKey.objects.get(pk=body["id"])
    secret = full.split("_", 2)[2]
    assert row.user == world.a.user
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(APIKey.objects.filter(pk=row.pk).values().get())
    listed = owner.get(f"api-keys/{row.pk}/").json()
    assert "key" not in listed and listed["read_only"] is True
    assert ApiClient(full, remote_addr="10.9.9.9").get("me/").status_code == 200


def test_api_key_input_is_validated(world):
    owner = ApiClient(world.a.key)
    bad = owner.post("api-keys/", {"allowed_networks": ["not-a-net"]})
    assert bad.status_code == 400 and "allowed_networks" in bad.json()
    past = owner.post("api-keys/", {"expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and "expires_at" in past.json()


def test_a_key_made_with_a_key_cannot_widen_it(world):
    parent = ApiClient(
        new_key(
            world.a.user,
            allowed_networks=["127.0.0.0/8"],
            expires_at=timezone.now() + timedelta(days=1),
        )
    )
    wider = parent.post(
        "api-keys/",
        {"allowed_networks": ["0.0.0.0/0"], "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert wider.status_code == 400
    assert "expires_at" in wider.json() or "allowed_networks" in wider.json()
    ok = parent.post(
        "api-keys/",
        {
            "allowed_networks": ["127.0.0.1/32"],
            "expires_at": (timezone.now() + timedelta(hours=1)).isoformat(),
        },
    )
    assert ok.status_code == 201, ok.content


def test_keys_are_listed_only_for_their_owner(world):
    mine = {k["id"] for k in ApiClient(world.a.key).list_all("api-keys/")}
    assert mine == set(APIKey.objects.filter(user=world.a.user).values_list("pk", flat=True))
    everyone = {k["id"] for k in ApiClient(world.super_key).list_all("api-keys/")}
    assert everyone == set(APIKey.objects.values_list("pk", flat=True))


def test_management_command_creates_a_working_key(world):
    out, err = StringIO(), StringIO()
    call_command(
        "apikey",
        "create",
        "--user",
        "res-b",
        "--read-only",
        "--expires",
        "30d",
        "--networks",
        "127.0.0.1/32",
        stdout=out,
        stderr=err,
    )
    full = out.getvalue().strip()
    assert full.startswith("mak_") and "Store the key now" in err.getvalue()
    key = APIKey.objects.get(prefix=full.split("_")[1])
    assert key.user == world.b.user and key.read_only
    assert key.expires_at - timezone.now() > timedelta(days=29)
    assert ApiClient(full).get("me/").json()["username"] == "res-b"
    listing = StringIO()
    call_command("apikey", "list", "--user", "res-b", stdout=listing)
    assert key.display_prefix in listing.getvalue() and full not in listing.getvalue()
    call_command("apikey", "revoke", key.display_prefix, stdout=StringIO())
    assert ApiClient(full).get("me/").status_code == 401


def test_throttled_per_key_with_retry_after(world, settings):
    settings.MAILADMIN_API_RATE = "3/min"
    a, b = ApiClient(world.a.key), ApiClient(world.b.key)
    assert [a.get("me/").status_code for _ in range(3)] == [200, 200, 200]
    limited = a.get("me/")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert list(limited.json()) == ["detail"]
    assert b.get("me/").status_code == 200  # another key has its own budget
